#!/usr/bin/env bash
# First start of PostgreSQL (empty data volume; /docker-entrypoint-initdb.d): two databases, each
# owned by its own login role — `airflow` (Airflow metadata, Celery results) and `govhub` (hub
# metadata). Passwords come from the environment (.env), never from this file.
# AIRFLOW_DB_NAME / GOVHUB_DB_NAME override the names (the tests use throwaway ones).
set -euo pipefail
: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD in .env}"
: "${GOVHUB_DB_PASSWORD:?set GOVHUB_DB_PASSWORD in .env}"
airflow_db=${AIRFLOW_DB_NAME:-airflow}
govhub_db=${GOVHUB_DB_NAME:-govhub}

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v airflow_db="$airflow_db" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
  -v govhub_db="$govhub_db" -v govhub_pw="$GOVHUB_DB_PASSWORD" <<'SQL'
CREATE ROLE :"airflow_db" LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE :"airflow_db" OWNER :"airflow_db" ENCODING 'UTF8' TEMPLATE template0;
CREATE ROLE :"govhub_db" LOGIN PASSWORD :'govhub_pw';
CREATE DATABASE :"govhub_db" OWNER :"govhub_db" ENCODING 'UTF8' TEMPLATE template0;
SQL
echo "created databases $airflow_db and $govhub_db"
