"""CRM adapters: each folder translates a finished call into one CRM's API."""
