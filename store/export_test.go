package store

// Internals the external tests drive directly.
var CheckTLS = checkTLS
