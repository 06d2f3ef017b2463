-- BankSight's two database roles, set up the same way everywhere: by docker/postgres/initdb.sh
-- in the compose `postgres` service, and by banksight/localservices.py for the embedded
-- PostgreSQL of development and tests. Run by a superuser with psql; safe to run again.
--
--   psql -X -v ON_ERROR_STOP=1 -d postgres -v database=banksight \
--        -v owner_role=banksight_owner -v app_role=banksight_app -v owner_createdb=NOCREATEDB \
--        -f roles.sql        # passwords from $BANKSIGHT_DB_OWNER_PASSWORD, $BANKSIGHT_DB_APP_PASSWORD
--
-- The owner owns the database, its schema and every table: migrations run as it. The
-- application (web, worker, beat) logs in as the app role, which is no superuser, owns
-- nothing and is no member of the owner, so it cannot TRUNCATE, ALTER TABLE (DISABLE
-- TRIGGER) or SET session_replication_role. Its table privileges are granted by the owner
-- after every `manage.py migrate` (apps/compliance/privileges.py): SELECT, INSERT, UPDATE,
-- DELETE, and only SELECT and INSERT on the audit trail and the other append-only tables.
-- owner_createdb is CREATEDB for the embedded server only (pytest-django creates the test
-- database as the owner) and NOCREATEDB in deployments.

\getenv owner_password BANKSIGHT_DB_OWNER_PASSWORD
\getenv app_password BANKSIGHT_DB_APP_PASSWORD

SELECT format('CREATE ROLE %I', :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role')
\gexec
SELECT format('CREATE ROLE %I', :'app_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role')
\gexec

ALTER ROLE :"owner_role" WITH LOGIN NOSUPERUSER :owner_createdb NOCREATEROLE NOREPLICATION
    NOBYPASSRLS PASSWORD :'owner_password';
ALTER ROLE :"app_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
    NOBYPASSRLS PASSWORD :'app_password';
-- Membership would pass the owner's rights on: the app role is a member of nothing.
SELECT format('REVOKE %I FROM %I', r.rolname, :'app_role')
  FROM pg_auth_members m
  JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = :'app_role')
\gexec

SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner_role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')
\gexec
ALTER DATABASE :"database" OWNER TO :"owner_role";

\connect :"database"

-- Since PostgreSQL 15 the schema public belongs to the database's owner and PUBLIC may not
-- create in it; said again here so that it holds whatever the server's defaults.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app_role";

-- A database created before these roles (tables owned by the superuser that created them)
-- is handed to the owner. Sequences of identity and serial columns follow their table.
SELECT format(
           'ALTER %s %s OWNER TO %I',
           CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                          WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
           c.oid::regclass, :'owner_role')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public'
   AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
   AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'owner_role')
   AND NOT EXISTS (
       SELECT FROM pg_depend d
        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
          AND d.deptype IN ('a', 'i', 'e'))
\gexec
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'owner_role')
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public'
   AND p.prokind IN ('f', 'p')
   AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = :'owner_role')
   AND NOT EXISTS (
       SELECT FROM pg_depend d
        WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
\gexec
