"""One module per resource: preferences, my mails, the admin queue, one-click unsubscribe."""
