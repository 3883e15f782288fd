-- Read-only access for BI tools: the role parcours_bi_reader may SELECT the parcours.v_* views
-- and nothing else: not the fact tables, not dead_letters (whose raw column keeps masked but
-- otherwise verbatim payloads), not the identity graph.
--
-- What makes SELECT on a view enough is done by `parcours migrate` after every run
-- (pipeline/sink/access.py): each v_* view is set to SQL SECURITY DEFINER, so it reads its
-- tables with the rights of the user who ran the migration. The BI user itself, parcours_bi,
-- is created there too, with the password from PARCOURS_BI_PASSWORD: no secret in this file.
--
-- Embedded chDB cannot store roles (its only access storage is a read-only users.xml): the
-- migrator skips these statements there.

CREATE ROLE IF NOT EXISTS parcours_bi_reader;

-- A prefix grant (ClickHouse 24.10+): every v_* view, including those of later migrations.
-- The v_ prefix is reserved for views (tests/schema/test_bi_access.py).
GRANT SELECT ON parcours.v_* TO parcours_bi_reader;
