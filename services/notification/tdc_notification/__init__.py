"""The notification service: every mail the club sends, in the reader's language, over SMTP, once."""
