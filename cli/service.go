package cli

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"

	urfave "github.com/urfave/cli/v2"
)

func (e *env) serviceUnitCommand() *urfave.Command {
	return &urfave.Command{
		Name:      "service-unit",
		Usage:     "print a hardened systemd unit that runs promo serve, and a timer for nightly backups",
		UsageText: "promo service-unit [--db /var/lib/promo/promo.db] [--addr :8443] [--tls-self-signed | --tls-cert FILE --tls-key FILE] [--binary PATH] [--backup-timer]",
		Description: describe("Prints a systemd service for `promo serve`: its own dynamic user, the database in\n"+
			"/var/lib/promo (StateDirectory), a read-only system otherwise, no new privileges, restart on\n"+
			"failure, SIGTERM for a graceful stop. With --backup-timer it prints the backup service and\n"+
			"its timer instead (a backup each night, the last 14 kept). Install as README's \"Run it on a VM\" says.",
			"promo service-unit --tls-self-signed | sudo tee /etc/systemd/system/promo.service",
			"promo service-unit --backup-timer"),
		Flags: []urfave.Flag{
			&urfave.StringFlag{Name: "db", Value: "/var/lib/promo/promo.db", Usage: "the database `FILE`, under /var/lib/promo"},
			&urfave.StringFlag{Name: "addr", Value: ":8443", Usage: "listen on `HOST:PORT`"},
			&urfave.BoolFlag{Name: "tls-self-signed", Usage: "serve HTTPS with a certificate made on first start"},
			&urfave.StringFlag{Name: "tls-cert", Usage: "the certificate `FILE` (readable by the service)"},
			&urfave.StringFlag{Name: "tls-key", Usage: "the private key `FILE`"},
			&urfave.StringFlag{Name: "binary", Usage: "promo's `PATH` (default: this binary's)"},
			&urfave.BoolFlag{Name: "backup-timer", Usage: "print the nightly backup's service and timer"},
			&urfave.IntFlag{Name: "keep", Value: 14, Usage: "with --backup-timer: backups to keep"},
		},
		Action: e.serviceUnit,
	}
}

// unitSpec is what the unit templates need.
type unitSpec struct {
	Binary, DB, Dir, Addr, ServeFlags string
	LowPort                           bool
	Keep                              int
}

func (e *env) serviceUnit(c *urfave.Context) error {
	if _, err := needArgs(c); err != nil {
		return err
	}
	spec, err := unitSpecOf(c.String("binary"), c.String("db"), c.String("addr"), c.Bool("tls-self-signed"), c.String("tls-cert"), c.String("tls-key"), c.Int("keep"))
	if err != nil {
		return err
	}
	t := serviceTemplate
	if c.Bool("backup-timer") {
		t = backupTemplate
	}
	var b bytes.Buffer
	if err := t.Execute(&b, spec); err != nil {
		return fmt.Errorf("write the unit: %w", err)
	}
	_, err = e.stdout.Write(b.Bytes())
	return err
}

func unitSpecOf(binary, db, addr string, selfSigned bool, cert, key string, keep int) (unitSpec, error) {
	if binary == "" {
		self, err := os.Executable()
		if err != nil {
			return unitSpec{}, usageErrorf("--binary: give promo's path (this binary's is unknown: %v)", err)
		}
		binary = self
	}
	if !filepath.IsAbs(binary) || !filepath.IsAbs(db) {
		return unitSpec{}, usageErrorf("--binary and --db want absolute paths (systemd needs them), got %q and %q", binary, db)
	}
	dir := filepath.Dir(db)
	if dir != "/var/lib/promo" && !strings.HasPrefix(dir, "/var/lib/promo/") {
		return unitSpec{}, usageErrorf("--db: the service may write only its StateDirectory, /var/lib/promo; got %s", db)
	}
	_, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 1 || n > 65535 {
		return unitSpec{}, usageErrorf("--addr: want HOST:PORT such as :8443, got %q", addr)
	}
	if keep < 1 {
		return unitSpec{}, usageErrorf("--keep: want 1 or more backups, got %d", keep)
	}
	flags := "--addr " + addr
	switch {
	case selfSigned && (cert != "" || key != ""):
		return unitSpec{}, usageErrorf("--tls-self-signed or --tls-cert/--tls-key, not both")
	case selfSigned:
		flags += " --tls-self-signed"
	case cert != "" || key != "":
		if cert == "" || key == "" || !filepath.IsAbs(cert) || !filepath.IsAbs(key) {
			return unitSpec{}, usageErrorf("--tls-cert and --tls-key go together, as absolute paths")
		}
		flags += " --tls-cert " + cert + " --tls-key " + key
	}
	return unitSpec{Binary: binary, DB: db, Dir: dir, Addr: addr, ServeFlags: flags, LowPort: n < 1024, Keep: keep}, nil
}

var serviceTemplate = template.Must(template.New("service").Parse(`# promo serve as a systemd service: written by ` + "`promo service-unit`" + `.
# Install: sudo tee /etc/systemd/system/promo.service, then
#   sudo systemctl daemon-reload && sudo systemctl enable --now promo
[Unit]
Description=promo: a shop's unique promo codes
Documentation=man:systemd.exec(5)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart={{.Binary}} --db {{.DB}} serve {{.ServeFlags}}
# SIGTERM: promo stops accepting, answers every request in flight, saves
# its filter and exits 0. A failed fdatasync exits 3: restart, promo
# replays its log.
KillSignal=SIGTERM
TimeoutStopSec=45s
Restart=on-failure
RestartSec=2s

# Its own user, made by systemd; its data in /var/lib/promo only.
DynamicUser=yes
StateDirectory=promo
StateDirectoryMode=0700
WorkingDirectory={{.Dir}}
UMask=0077

# Everything else is read-only or hidden.
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
{{- if .LowPort}}
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
AmbientCapabilities=CAP_NET_BIND_SERVICE
{{- else}}
CapabilityBoundingSet=
{{- end}}
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`))

var backupTemplate = template.Must(template.New("backup").Parse(`# promo's nightly backup: written by ` + "`promo service-unit --backup-timer`" + `.
# Install both parts: the service as /etc/systemd/system/promo-backup.service,
# the timer as /etc/systemd/system/promo-backup.timer, then
#   sudo systemctl daemon-reload && sudo systemctl enable --now promo-backup.timer
# The backup runs as root beside the service (the CLI reaches promo serve
# through its socket), into {{.Dir}}/backups, keeping the last {{.Keep}}.

# --- promo-backup.service ---
[Unit]
Description=promo: back up the database
After=promo.service

[Service]
Type=oneshot
ExecStart={{.Binary}} --db {{.DB}} backup --dir {{.Dir}}/backups --keep {{.Keep}}
ProtectSystem=strict
ReadWritePaths=/var/lib/private/promo /var/lib/promo
PrivateTmp=yes
NoNewPrivileges=yes

# --- promo-backup.timer ---
[Unit]
Description=promo: back up the database each night

[Timer]
OnCalendar=*-*-* 03:15:00
RandomizedDelaySec=15m
Persistent=true

[Install]
WantedBy=timers.target
`))
