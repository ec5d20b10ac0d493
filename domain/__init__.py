"""hoso's domain model: the Dossier aggregate, its rules, and the application service."""
