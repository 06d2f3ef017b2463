#!/bin/sh
# BankSight's database roles, created on the first start of an empty data volume: the
# postgres image runs this from /docker-entrypoint-initdb.d/. The same script
# (docker/postgres/roles.sql, mounted at /banksight/roles.sql) sets up the embedded
# PostgreSQL of development and tests. Passwords come from BANKSIGHT_DB_OWNER_PASSWORD and
# BANKSIGHT_DB_APP_PASSWORD in this container's environment. To add the roles to a volume
# created before them, see docker/README.md.
psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v database="$POSTGRES_DB" \
    -v owner_role=banksight_owner \
    -v app_role=banksight_app \
    -v owner_createdb=NOCREATEDB \
    -f /banksight/roles.sql
