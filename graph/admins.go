package graph

import (
	"wxlogin/admin"
	"wxlogin/graph/gqlmodel"
)

// passwordPayload is the answer of a mutation that set an admin's
// password; nil for nil (the mutation failed).
func passwordPayload(set *admin.PasswordSet) *gqlmodel.AdminPasswordPayload {
	if set == nil {
		return nil
	}
	p := &gqlmodel.AdminPasswordPayload{Admin: set.Admin}
	if set.Generated != "" {
		p.GeneratedPassword = &set.Generated
	}
	return p
}
