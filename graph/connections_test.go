package graph

import (
	"testing"

	"wxlogin/models"
)

// TestConnection: each item becomes an edge with its own cursor, and the
// PageInfo names the first and last cursors and carries the page's flags;
// an empty page has no cursors at all (null, not "").
func TestConnection(t *testing.T) {
	t.Parallel()
	page := &models.Page[*models.User]{Items: []*models.User{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Cursors: []string{"ca", "cb", "cc"}, HasNextPage: true, TotalCount: 7}
	c := userConnection(page)
	if len(c.Edges) != 3 || c.TotalCount != 7 {
		t.Fatalf("%d edges, total %d", len(c.Edges), c.TotalCount)
	}
	for i, e := range c.Edges {
		if e.Cursor != page.Cursors[i] || e.Node != page.Items[i] {
			t.Errorf("edge %d: cursor %q, node %v", i, e.Cursor, e.Node.ID)
		}
	}
	pi := c.PageInfo
	if *pi.StartCursor != "ca" || *pi.EndCursor != "cc" || !pi.HasNextPage || pi.HasPreviousPage {
		t.Errorf("page info %q..%q next %v previous %v", *pi.StartCursor, *pi.EndCursor, pi.HasNextPage, pi.HasPreviousPage)
	}

	empty := auditConnection(&models.Page[*models.AuditEntry]{HasPreviousPage: true})
	if len(empty.Edges) != 0 || empty.Edges == nil || empty.PageInfo.StartCursor != nil || empty.PageInfo.EndCursor != nil || !empty.PageInfo.HasPreviousPage {
		t.Errorf("empty page: %+v, %+v", empty.Edges, empty.PageInfo)
	}
}
