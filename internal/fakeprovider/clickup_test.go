package fakeprovider

import (
	"encoding/json"
	"testing"
)

func TestClickUp(t *testing.T) {
	s := New(t, Options{})
	resp, body := call(t, "GET", s.URL+"/api/v2/team", clickupAuth(), "")
	var teams struct {
		Teams []struct {
			ID, Name string
			Members  []struct {
				User struct {
					ID       int64
					Username string
				}
			}
		}
	}
	if err := json.Unmarshal(body, &teams); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(teams.Teams) != 1 || teams.Teams[0].ID != ClickUpTeamID || len(teams.Teams[0].Members) != 1 {
		t.Errorf("teams: got %d %+v, want one team %s with one member", resp.StatusCode, teams, ClickUpTeamID)
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "" {
		t.Errorf("no X-RateLimit-Remaining header: %v", resp.Header)
	}

	_, body = call(t, "GET", s.URL+"/api/v2/task/86abc123", clickupAuth(), "")
	task := decode(t, body)
	if task["id"] != "86abc123" || task["status"].(map[string]any)["status"] != "to do" || task["url"] != "https://app.clickup.com/t/86abc123" {
		t.Errorf("task: got %v, want task 86abc123 to do", task)
	}

	resp, body = call(t, "GET", s.URL+"/api/v2/nothing", clickupAuth(), "")
	if e := decode(t, body); resp.StatusCode != 404 || e["ECODE"] == nil || e["err"] == nil {
		t.Errorf("unknown path: got %d %s, want 404 with err and ECODE", resp.StatusCode, body)
	}
}
