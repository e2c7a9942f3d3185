-- When a writer last found the tag present on GitHub (clock time of the write, after its read).
--
-- A sync's tombstone step spares the rows found present since its listing was taken: a webhook may
-- have brought such a tag back after the listing was read. It compared updated_at, which the
-- canonical and release-field refreshes also move: a deleted tag whose canonical flag changed
-- during the run (another spelling of its version written meanwhile) was spared and stayed live.
-- Null: not found present since this column exists (such rows are not spared).
ALTER TABLE releases ADD COLUMN present_at timestamptz;
