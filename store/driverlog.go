package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/uptrace/bun/driver/pgdriver"
)

// pgdriver reports broken connections through a package-level logger that
// writes straight to stderr, with its source file and line, around the
// server's structured log. It goes through slog instead, at WARN, to the
// logger SetDriverLog names (slog's default until then). It is set in init,
// before any connection exists: pgdriver reads it without a lock.
func init() { pgdriver.Logger = driverLog{} }

var driverLogger atomic.Pointer[slog.Logger]

// SetDriverLog sends the database driver's own messages to log.
func SetDriverLog(log *slog.Logger) { driverLogger.Store(log) }

type driverLog struct{}

// Printf logs one of pgdriver's messages.
func (driverLog) Printf(ctx context.Context, format string, v ...any) {
	log := driverLogger.Load()
	if log == nil {
		log = slog.Default()
	}
	log.WarnContext(ctx, "database driver", "detail", fmt.Sprintf(format, v...))
}
