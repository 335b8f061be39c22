// Package eddyrest is a small client for Eddy's REST API, standard library only.
//
// Every call is one HTTP request with an API key. Errors are RFC 9457 problem details; a
// *Problem with status 409 (see IsLeaseLost) means the attempt no longer holds its job: stop
// working it, another attempt owns it or it was rescued.
package eddyrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Client talks to one Eddy REST API.
type Client struct {
	URL    string
	APIKey string
	HTTP   *http.Client
}

// New returns a client for the API at url (like http://127.0.0.1:8080).
func New(url, apiKey string) *Client {
	return &Client{URL: strings.TrimRight(url, "/"), APIKey: apiKey, HTTP: &http.Client{Timeout: 90 * time.Second}}
}

// Problem is an RFC 9457 problem the API answered with.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	State  string `json:"state,omitempty"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Detail  string `json:"detail"`
	} `json:"errors,omitempty"`
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s: %s", p.Status, p.Title, p.Detail) }

// IsLeaseLost reports whether err says the attempt no longer holds its job (409).
func IsLeaseLost(err error) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == http.StatusConflict
}

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	payload, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL+path, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("authorization", "Bearer "+c.APIKey)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		problem := &Problem{Status: res.StatusCode, Title: res.Status}
		_ = json.NewDecoder(res.Body).Decode(problem)
		return problem
	}
	return json.NewDecoder(res.Body).Decode(out)
}

// Job is one job to insert; Args is any JSON object. Options as the API names them.
type Job struct {
	Kind        string         `json:"kind"`
	Args        any            `json:"args"`
	Queue       string         `json:"queue,omitempty"`
	Priority    int            `json:"priority,omitempty"`
	MaxAttempts int            `json:"maxAttempts,omitempty"`
	ScheduledAt *time.Time     `json:"scheduledAt,omitempty"`
	PerformIn   int64          `json:"performIn,omitempty"`
	Tags        []string       `json:"tags,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	Pending     bool           `json:"pending,omitempty"`
	Unique      map[string]any `json:"unique,omitempty"`
}

// Inserted is what an insert answers for each job.
type Inserted struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Queue     string `json:"queue"`
	State     string `json:"state"`
	Duplicate bool   `json:"duplicate"`
}

// Insert inserts jobs in one statement.
func (c *Client) Insert(ctx context.Context, jobs ...Job) ([]Inserted, error) {
	var out struct {
		Jobs []Inserted `json:"jobs"`
	}
	err := c.post(ctx, "/v1/jobs", map[string]any{"jobs": jobs}, &out)
	return out.Jobs, err
}

// Claimed is a job claimed with a lease.
type Claimed struct {
	ID             string          `json:"id"`
	Kind           string          `json:"kind"`
	Args           json.RawMessage `json:"args"`
	Queue          string          `json:"queue"`
	Attempt        int             `json:"attempt"`
	MaxAttempts    int             `json:"maxAttempts"`
	Token          string          `json:"token"`
	LeaseExpiresAt time.Time       `json:"leaseExpiresAt"`
	Metadata       map[string]any  `json:"metadata"`
}

// ClaimRequest says what to claim.
type ClaimRequest struct {
	Queues  []string `json:"queues,omitempty"`
	Kinds   []string `json:"kinds"`
	Limit   int      `json:"limit,omitempty"`
	LeaseMs int64    `json:"leaseMs,omitempty"`
	WaitMs  int64    `json:"waitMs,omitempty"`
	Worker  string   `json:"worker,omitempty"`
}

// Claim claims available jobs, waiting up to WaitMs on the server for one.
func (c *Client) Claim(ctx context.Context, r ClaimRequest) ([]Claimed, error) {
	var out struct {
		Jobs []Claimed `json:"jobs"`
	}
	err := c.post(ctx, "/v1/claims", r, &out)
	return out.Jobs, err
}

// Settled is the state an answer left the job in.
type Settled struct {
	ID              string    `json:"id"`
	State           string    `json:"state"`
	LeaseExpiresAt  time.Time `json:"leaseExpiresAt"`
	CancelRequested bool      `json:"cancelRequested"`
}

// Complete completes the attempt; output (any JSON, or nil) is stored as the job's output.
func (c *Client) Complete(ctx context.Context, job Claimed, output any) (Settled, error) {
	var out Settled
	body := map[string]any{"token": job.Token}
	if output != nil {
		body["output"] = output
	}
	return out, c.post(ctx, "/v1/jobs/"+job.ID+"/complete", body, &out)
}

// Fail fails the attempt: retried with River's backoff, or discarded when discard is set or
// its attempts are used up.
func (c *Client) Fail(ctx context.Context, job Claimed, message, trace string, discard bool) (Settled, error) {
	var out Settled
	body := map[string]any{"token": job.Token, "error": message, "trace": trace, "discard": discard}
	return out, c.post(ctx, "/v1/jobs/"+job.ID+"/fail", body, &out)
}

// Snooze gives the attempt back and runs the job again after delay.
func (c *Client) Snooze(ctx context.Context, job Claimed, delay time.Duration) (Settled, error) {
	var out Settled
	body := map[string]any{"token": job.Token, "delayMs": delay.Milliseconds()}
	return out, c.post(ctx, "/v1/jobs/"+job.ID+"/snooze", body, &out)
}

// Extend makes the lease extend from now (a heartbeat).
func (c *Client) Extend(ctx context.Context, job Claimed, extend time.Duration) (Settled, error) {
	var out Settled
	body := map[string]any{"token": job.Token, "extendMs": extend.Milliseconds()}
	return out, c.post(ctx, "/v1/jobs/"+job.ID+"/lease", body, &out)
}
