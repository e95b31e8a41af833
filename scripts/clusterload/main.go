// Command clusterload is the Go half of `make cluster` (scripts/cluster.sh):
//
//	clusterload sim -addr 127.0.0.1:18090 -appid wx… -secret …   the WeChat simulator, standalone
//	clusterload dropdb                                             drop the database in DATABASE_URL
//	clusterload run -lb URL -a URL -b URL -sim URL -state DIR …    the load demonstration
//
// In dev mode every wxlogin instance mounts a simulator of its own, so a code
// minted on one is unknown to the other; a cluster needs one simulator that
// both instances call as WECHAT_API_BASE, which `sim` serves.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"wxlogin/store"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "sim":
		err = simCmd(os.Args[2:])
	case "dropdb":
		dsn := os.Getenv("DATABASE_URL")
		if dsn == "" {
			err = fmt.Errorf("DATABASE_URL is required")
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err = store.DropDatabase(ctx, dsn)
	case "run":
		err = runCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clusterload:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: clusterload sim|dropdb|run [flags]")
	os.Exit(2)
}
