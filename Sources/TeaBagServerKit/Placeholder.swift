// Shared server parts; see the table and store issues.
