-- The PII salt the data here was hashed with, as a fingerprint: a keyed hash of a fixed text
-- under the salt, which tells nothing of the salt itself. A run with another salt would hash
-- every email and phone differently from the data already written: known customers would not
-- be found again, and every device seen before with an email would look shared (seen with two
-- emails). So a run whose salt has another fingerprint refuses to start (pipeline/sink/pii_salt.py).
-- ORDER BY fingerprint: the replacing key (one row per salt, normally one in all).
CREATE TABLE IF NOT EXISTS parcours.pii_salt
(
    fingerprint  String,
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY fingerprint;
