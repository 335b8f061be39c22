// A producer for Eddy's REST API in Go, standard library only.
//
//	EDDY_URL=http://127.0.0.1:8080 EDDY_API_KEY=... go run ./producer
package main

import (
	"context"
	"log"
	"os"

	"eddy.example/rest/eddyrest"
)

func main() {
	url := os.Getenv("EDDY_URL")
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	client := eddyrest.New(url, os.Getenv("EDDY_API_KEY"))
	inserted, err := client.Insert(context.Background(),
		eddyrest.Job{Kind: "echo", Args: map[string]any{"hello": "from go"}, Tags: []string{"example"}},
		eddyrest.Job{Kind: "flaky", Args: map[string]any{}, MaxAttempts: 5},
		eddyrest.Job{
			Kind:   "echo",
			Args:   map[string]any{"report": "daily"},
			Unique: map[string]any{"byArgs": true, "byPeriodMs": 86_400_000},
		},
	)
	if err != nil {
		log.Fatal(err)
	}
	for _, job := range inserted {
		state := job.State
		if job.Duplicate {
			state = "duplicate"
		}
		log.Printf("job %s %s: %s", job.ID, job.Kind, state)
	}
}
