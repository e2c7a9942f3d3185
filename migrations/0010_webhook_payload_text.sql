-- Webhook payloads are kept as GitHub sent them: text, not jsonb.
--
-- The intake answers GitHub only once a delivery is committed, so storing it is on the hot path,
-- and jsonb costs twice as much: every 7-8 kB release payload is parsed into jsonb's binary form on
-- insert (measured: 0.19 ms of database CPU per delivery row as jsonb, 0.09 ms as text). jsonb also
-- refuses what JSON allows and GitHub may send (a \u0000 escape in a release body). Nothing queries
-- inside payloads on the hot path; operators can still read them with `payload::jsonb`.
ALTER TABLE webhook_deliveries ALTER COLUMN payload TYPE text USING payload::text;

-- lz4 compresses these payloads with about half pglz's CPU where the server has it. A server built
-- without lz4 (the embedded one) keeps pglz.
DO $$
BEGIN
  ALTER TABLE webhook_deliveries ALTER COLUMN payload SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this PostgreSQL has no lz4: webhook payloads stay compressed with pglz';
END;
$$;
