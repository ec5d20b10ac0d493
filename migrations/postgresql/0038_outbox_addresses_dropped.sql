-- Issue 17, item 8: the applicant's email address is kept in the outbox only while something
-- is owed to it. What the earlier version left behind goes now: the dossier's copy once its
-- last step (delivered, withdrawn) is recorded, a message's once it was delivered. The
-- addresses still owed are sealed with HOSO_CIPHER_KEY by `hoso migrate` itself (SQL has no
-- key): projections/outbox.py, OutboxView.seal_clear_addresses.
UPDATE outbox_dossier SET email = NULL WHERE stage IN ('delivered', 'withdrawn');
UPDATE outbox_message SET recipient = '' WHERE channel = 'email' AND status = 'delivered';
