"""Test support: finding real MySQL and RabbitMQ servers, isolated schemas, signing keys."""
