"""Web accounts: users with roles (operator, supervisor, admin), hashed passwords, lock-out."""
