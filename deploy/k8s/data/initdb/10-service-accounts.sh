#!/bin/sh
# One MySQL account per service, allowed into its own schema only (ARCHITECTURE: "each schema
# has its own MySQL user"), so a flaw in one service cannot read or change another's data.
#
# The MySQL image runs this once, when it initialises an empty data volume. It reads, from the
# container's environment:
#   MYSQL_ROOT_PASSWORD                       the image's own root password
#   TDC_DB_PREFIX                             schema and account prefix (default tdc_)
#   TDC_AUTH_DB_PASSWORD, TDC_CATALOG_DB_PASSWORD, ...   one per service in TDC_DB_SERVICES
# and gives account <prefix><service>@'%' every privilege on schema <prefix><service> (which
# the service creates and migrates itself at start) and nothing else.
set -eu

prefix="${TDC_DB_PREFIX:-tdc_}"
services="${TDC_DB_SERVICES:-auth catalog}"

case "$prefix" in
  *[!A-Za-z0-9_]* | "") echo "TDC_DB_PREFIX may hold only letters, digits and underscores" >&2; exit 1 ;;
esac

sql=""
for service in $services; do
  case "$service" in
    *[!a-z0-9_]* | "") echo "service name '$service' may hold only a-z, 0-9 and _" >&2; exit 1 ;;
  esac
  variable="TDC_$(echo "$service" | tr 'a-z' 'A-Z')_DB_PASSWORD"
  password="$(printenv "$variable" || true)"
  if [ -z "$password" ]; then
    echo "$variable is not set: the $service service would have no database account" >&2
    exit 1
  fi
  case "$password" in
    # Kept out of the SQL text below, and out of the service's mysql:// URL, where they would
    # need quoting: a generated password of letters and digits loses nothing by it.
    *[!A-Za-z0-9._~-]*) echo "$variable may hold only letters, digits and . _ ~ -" >&2; exit 1 ;;
  esac
  account="${prefix}${service}"
  sql="${sql}CREATE USER IF NOT EXISTS '${account}'@'%' IDENTIFIED BY '${password}';
GRANT ALL PRIVILEGES ON \`${account}\`.* TO '${account}'@'%';
"
done

printf '%s' "$sql" | MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mysql --user=root
