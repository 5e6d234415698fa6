// Filled by its issue; see README.
