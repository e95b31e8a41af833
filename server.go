// Command wxlogin is the WeChat Mini Program login server: a GraphQL API
// that exchanges wx.login() codes for session tokens.
//
//	wxlogin [serve]            run the server (migrating first)
//	wxlogin migrate [-create-db]  apply pending migrations and exit
//	wxlogin admin …            manage admin accounts (wxlogin admin -h)
//	wxlogin rekey              re-seal stored secrets under the current SECRET_KEY
//
// Settings come from environment variables or flags; see docs/configuration.md. The
// program itself is package app; this file only turns signals into a
// context and errors into exit codes.
package main

//go:generate go run github.com/99designs/gqlgen generate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"wxlogin/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal starts the drain, the default action comes
		// back: a second SIGINT or SIGTERM ends the process at once.
		<-ctx.Done()
		stop()
	}()
	if err := app.Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		var usage app.UsageError
		switch {
		case errors.Is(err, flag.ErrHelp):
			os.Exit(2)
		case errors.As(err, &usage):
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "wxlogin:", err)
		os.Exit(1)
	}
}
