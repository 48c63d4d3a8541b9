"""Every SQL statement of the notification service, parameterized, MySQL 8 and MariaDB 10.11."""
