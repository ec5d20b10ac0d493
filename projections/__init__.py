"""Read models built from the Dossier events, and the store wiring they share."""
