package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
)

func apqExtensionsJSON(query string) string {
	h := sha256.Sum256([]byte(query))
	return `{"persistedQuery":{"version":1,"sha256Hash":"` + hex.EncodeToString(h[:]) + `"}}`
}

func apqExtensions(query string) string { return url.QueryEscape(apqExtensionsJSON(query)) }
