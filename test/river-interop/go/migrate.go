package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// River's CLI (cmd/river) is a thin layer over rivermigrate; the module proxy these tests use
// does not carry cmd/river, so these subcommands call rivermigrate the way the CLI's
// migrate-list, migrate-up and validate do and print what they print.

func migrator(ctx context.Context, args []string, name string) (*rivermigrate.Migrator[pgx.Tx], func(), error) {
	var c common
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	pool, err := c.pool(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: c.schema, Logger: logger()})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return m, pool.Close, nil
}

// migrateList prints every version of line main, marking the one the database is at with "* ".
func migrateList(ctx context.Context, args []string) error {
	m, done, err := migrator(ctx, args, "migrate-list")
	if err != nil {
		return err
	}
	defer done()
	existing, err := m.ExistingVersions(ctx)
	if err != nil {
		return err
	}
	current := 0
	if len(existing) > 0 {
		current = existing[len(existing)-1].Version
	}
	for _, migration := range m.AllVersions() {
		prefix := ""
		switch {
		case migration.Version == current:
			prefix = "* "
		case current > 0:
			prefix = "  "
		}
		fmt.Printf("%s%03d %s\n", prefix, migration.Version, migration.Name)
	}
	return nil
}

// migrateUp applies what is missing and prints each version applied, with its SQL.
func migrateUp(ctx context.Context, args []string) error {
	m, done, err := migrator(ctx, args, "migrate-up")
	if err != nil {
		return err
	}
	defer done()
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{})
	if err != nil {
		return err
	}
	if len(res.Versions) == 0 {
		fmt.Println("no migrations to apply")
		return nil
	}
	for _, v := range res.Versions {
		fmt.Printf("applied migration %03d [up] %s\n%s\n", v.Version, v.Name, strings.TrimSpace(v.SQL))
	}
	return nil
}

// validate exits non-zero when migrations are missing, as `river validate` does.
func validate(ctx context.Context, args []string) error {
	m, done, err := migrator(ctx, args, "validate")
	if err != nil {
		return err
	}
	defer done()
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return err
	}
	for _, message := range res.Messages {
		fmt.Println(message)
	}
	if !res.OK {
		return fmt.Errorf("schema not up to date")
	}
	fmt.Println("ok")
	return nil
}

// versions prints the module versions this binary was built with.
func versions(context.Context, []string) error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build info")
	}
	fmt.Printf("go %s\n", info.GoVersion)
	for _, dep := range info.Deps {
		if strings.HasPrefix(dep.Path, "github.com/riverqueue/river") || dep.Path == "riverqueue.com/riverui" {
			fmt.Printf("%s %s\n", dep.Path, dep.Version)
		}
	}
	return nil
}
