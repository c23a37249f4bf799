package fakeprovider

import (
	"net/http"
	"strings"
)

// clickupErr is ClickUp's error shape.
type clickupErr struct {
	Err   string `json:"err"`
	ECODE string `json:"ECODE"`
}

type clickupUser struct {
	ID             int64   `json:"id"`
	Username       string  `json:"username"`
	Email          string  `json:"email"`
	Color          string  `json:"color"`
	ProfilePicture *string `json:"profilePicture"`
	Initials       string  `json:"initials"`
	Role           int     `json:"role,omitempty"`
}

// ClickUpTeamID is the id of the one workspace GET /api/v2/team lists.
const ClickUpTeamID = "9012345678"

func fakeUser() clickupUser {
	return clickupUser{ID: 81234567, Username: "Fake Member", Email: "member@example.com", Color: "#7b68ee", Initials: "FM"}
}

// clickupHeaders are the rate-limit headers ClickUp sends on every reply.
func (s *Server) clickupHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", "100")
	h.Set("X-RateLimit-Remaining", "99")
	h.Set("X-RateLimit-Reset", "1767225660")
}

func (s *Server) clickupTeams(w http.ResponseWriter, r *http.Request, _ []byte) {
	u := fakeUser()
	u.Role = 1
	type member struct {
		User clickupUser `json:"user"`
	}
	type team struct {
		ID      string   `json:"id"`
		Name    string   `json:"name"`
		Color   string   `json:"color"`
		Avatar  *string  `json:"avatar"`
		Members []member `json:"members"`
	}
	s.clickupHeaders(w)
	writeJSON(w, http.StatusOK, map[string][]team{"teams": {{
		ID: ClickUpTeamID, Name: "Fake Workspace", Color: "#536cfe", Members: []member{{User: u}},
	}}})
}

func (s *Server) clickupTask(w http.ResponseWriter, r *http.Request, _ []byte) {
	id := strings.TrimPrefix(r.URL.Path, "/api/v2/task/")
	type ref struct {
		ID     string `json:"id"`
		Name   string `json:"name,omitempty"`
		Access bool   `json:"access,omitempty"`
	}
	type status struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Color      string `json:"color"`
		Orderindex int    `json:"orderindex"`
		Type       string `json:"type"`
	}
	task := map[string]any{
		"id": id, "custom_id": nil, "custom_item_id": 0, "name": "Fake task " + id,
		"text_content": "A task served by the fake ClickUp API.", "description": "A task served by the fake ClickUp API.",
		"status":       status{ID: "p90120000000_abc", Status: "to do", Color: "#87909e", Type: "open"},
		"orderindex":   "1.00000000000000000000000000000000",
		"date_created": "1767225600000", "date_updated": "1767225600000",
		"date_closed": nil, "date_done": nil, "archived": false,
		"creator": fakeUser(), "assignees": []clickupUser{}, "watchers": []clickupUser{fakeUser()},
		"checklists": []any{}, "tags": []any{}, "parent": nil, "top_level_parent": nil, "priority": nil,
		"due_date": nil, "start_date": nil, "points": nil, "time_estimate": nil, "time_spent": 0,
		"custom_fields": []any{}, "dependencies": []any{}, "linked_tasks": []any{}, "locations": []any{},
		"team_id": ClickUpTeamID, "url": "https://app.clickup.com/t/" + id, "sharing": map[string]any{"public": false},
		"permission_level": "create",
		"list":             ref{ID: "901200000001", Name: "Fake List", Access: true},
		"project":          ref{ID: "90120000002", Name: "hidden", Access: true},
		"folder":           ref{ID: "90120000002", Name: "hidden", Access: true},
		"space":            ref{ID: "90120000003"},
		"attachments":      []any{},
	}
	s.clickupHeaders(w)
	writeJSON(w, http.StatusOK, task)
}
