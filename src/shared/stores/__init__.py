"""Store adapters: one per external store (MongoDB, SQL), each implementing shared.ports with one client."""
