package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// step is one promo command line. In args, $DB is the scenario's database
// and $DIR its directory (holding codes.txt and customers.csv); without
// $DB, "--db $DB" goes first.
type step struct {
	args  string
	stdin string
	code  int // the exit status it must have
}

// scenario runs setup on a copy of the seeded
// database, then args, and checks the exit status and what was printed.
type scenario struct {
	name       string
	setup      []step
	args       string
	stdin      string
	wantCode   int
	wantStdout []string // substrings
	wantStderr []string
	notStdout  []string
}

func (s scenario) run(t *testing.T) {
	db := seededDB(t)
	for _, st := range s.setup {
		stdout, stderr, code := runIn(t, context.Background(), st.stdin, expand(st.args, db)...)
		require.Equal(t, st.code, code, "setup %q\nstdout: %s\nstderr: %s", st.args, stdout, stderr)
	}
	stdout, stderr, code := runIn(t, context.Background(), s.stdin, expand(s.args, db)...)
	require.Equal(t, s.wantCode, code, "promo %s\nstdout: %s\nstderr: %s", s.args, stdout, stderr)
	for _, want := range s.wantStdout {
		require.Contains(t, stdout, strings.ReplaceAll(want, "$DIR", filepath.Dir(db)), "stdout")
	}
	for _, want := range s.wantStderr {
		require.Contains(t, stderr, strings.ReplaceAll(want, "$DIR", filepath.Dir(db)), "stderr")
	}
	for _, not := range s.notStdout {
		require.NotContains(t, stdout, not, "stdout")
	}
	if code == 0 {
		require.Empty(t, stderr, "a command that succeeds prints nothing on stderr")
	} else {
		require.NotEmpty(t, stderr, "a command that fails says why on stderr")
		require.NotContains(t, stderr, "goroutine", "no stack traces")
	}
}

// expand splits a command line on spaces (a quoted "..." stays one
// argument) and fills in $DB and $DIR.
func expand(line, db string) []string {
	var args []string
	for i, part := range strings.Split(line, `"`) {
		if i%2 == 1 {
			args = append(args, part)
			continue
		}
		args = append(args, strings.Fields(part)...)
	}
	explicit := false
	for i, a := range args {
		explicit = explicit || strings.Contains(a, "$DB")
		a = strings.ReplaceAll(a, "$DB", db)
		args[i] = strings.ReplaceAll(a, "$DIR", filepath.Dir(db))
	}
	if !explicit {
		args = append([]string{"--db", db}, args...)
	}
	return args
}

func runScenarios(t *testing.T, tests []scenario) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t)
		})
	}
}

func TestRun_Usage(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "NoCommand", args: "", wantCode: 2, wantStderr: []string{"COMMANDS", "missing command"}},
		{name: "Help", args: "--help", wantStdout: []string{"COMMANDS", "promo redeem 7K3M-Q9XD-2RTM", "EXIT STATUS"}},
		{name: "HelpWord", args: "help", wantStdout: []string{"COMMANDS"}},
		{name: "CommandHelp", args: "redeem CODE --customer c --help", wantStdout: []string{"promo redeem CODE", "Examples:", "--terminal"}},
		{name: "HelpSubcommand", args: "help campaign create", wantStdout: []string{"promo campaign create ID", "--reward-campaign"}},
		{name: "GroupHelp", args: "keys --help", wantStdout: []string{"create", "revoke"}},
		{name: "UnknownCommand", args: "redeme ABCD2345", wantCode: 2, wantStderr: []string{`unknown command "redeme"`, `did you mean "redeem"?`}},
		{name: "UnknownSubcommand", args: "campaign lst", wantCode: 2, wantStderr: []string{`unknown command "lst" for promo campaign`, `"list"`}},
		{name: "GroupWithoutSubcommand", args: "campaign", wantCode: 2, wantStderr: []string{"promo campaign needs a command: create, list"}},
		{name: "UnknownFlag", args: "redeem ABCD2345 --termnal t", wantCode: 2, wantStderr: []string{"unknown flag --termnal for promo redeem; did you mean --terminal?"}},
		{name: "UnknownGlobalFlag", args: "--verbose campaign list", wantCode: 2, wantStderr: []string{"unknown flag --verbose for promo"}},
		{name: "FlagWithoutValue", args: "redeem ABCD2345 --customer", wantCode: 2, wantStderr: []string{"--customer needs a value"}},
		{name: "MissingArgument", args: "redeem", wantCode: 2, wantStderr: []string{"missing CODE (usage: promo redeem CODE"}},
		{name: "ExtraArgument", args: "redeem ABCD2345 BCDE3456", wantCode: 2, wantStderr: []string{`unexpected argument "BCDE3456"`}},
		{name: "HugeNumber", args: "generate gen --count 99999999999999999999", wantCode: 2, wantStderr: []string{"--count: 99999999999999999999 is too large, e.g. --count 1000"}},
		{name: "BadNumber", args: "generate gen --count many", wantCode: 2, wantStderr: []string{`--count: "many" is not a whole number, e.g. --count 1000`}},
		{name: "BadBool", args: "import gen $DIR/codes.txt --skip-invalid=maybe", wantCode: 2, wantStderr: []string{"--skip-invalid takes no value, or =true or =false"}},
		{name: "NoDatabase", args: "--db $DIR/missing.db campaign list", wantCode: 3, wantStderr: []string{"no database at", "missing.db"}},
		// A missing directory: list says so rather than suggesting a create
		// that would fail the same way, and create names the directory once.
		{name: "NoDatabaseDirectory", args: "--db $DIR/no/such/x.db campaign list", wantCode: 3, wantStderr: []string{"and no directory $DIR/no/such: ", "(mkdir -p $DIR/no/such) and then"}},
		{name: "CreateInMissingDirectory", args: "--db $DIR/no/such/x.db campaign create x --name X --kind welcome --percent 5", wantCode: 3,
			wantStderr: []string{"promo: cannot create the database $DIR/no/such/x.db: the directory $DIR/no/such does not exist; create it first (mkdir -p $DIR/no/such), or use a file in an existing directory\n"}},
		{name: "GlobalFlagsAfterCommand", args: "campaign show gen --db $DB --json", wantStdout: []string{`{"id":"gen"`}},
		{name: "GlobalFlagEqualsForm", args: "campaign list --db=$DB", wantStdout: []string{"gen", "welcome"}},
		{name: "FlagsBeforeArgument", args: "redeem --customer alice --amount 5000 ABCD2345", wantStdout: []string{"rd_1", "alice", "5.00 EUR"}},
		{name: "FlagsAfterArgument", args: "redeem ABCD2345 --customer alice --amount 5000", wantStdout: []string{"rd_1", "alice", "5.00 EUR"}},
		{name: "JSONError", args: "--json redeem NOSUCH99", wantCode: 1, wantStderr: []string{`{"error":{"code":"not_found","message":"no such code: check it and type it again","field":"code"}}`}},
		{name: "JSONUsageError", args: "redeem --json", wantCode: 2, wantStderr: []string{`{"error":{"code":"invalid_request","message":"missing CODE`}},
	})
}

func TestRun_Campaign(t *testing.T) {
	create := "campaign create c1 "
	runScenarios(t, []scenario{
		{name: "Create", args: create + `--name "Spring sale" --kind generic --percent 15`, wantStdout: []string{"created campaign c1", "Spring sale", "15% off", "crockford, 11 symbols + check symbol, groups of 4"}},
		{name: "CreateFlagsBeforeID", args: "campaign create --percent 15 c1", wantStdout: []string{"created campaign c1"}},
		{name: "CreateAmount", args: create + "--amount 500 --currency eur --min-order 2500", wantStdout: []string{"5.00 EUR off", "min order", "25.00 EUR"}},
		{name: "CreateFreeShipping", args: create + "--free-shipping", wantStdout: []string{"free shipping"}},
		{name: "CreateCustom", args: create + `--custom "free tote bag"`, wantStdout: []string{"free tote bag"}},
		{name: "CreateDates", args: create + "--percent 5 --starts 2027-01-01 --expires 2027-01-31", wantStdout: []string{"2027-01-01T00:00:00Z", "2027-01-31T23:59:59Z"}},
		{name: "CreateRFC3339", args: create + "--percent 5 --starts 2027-01-01T10:00:00+02:00", wantStdout: []string{"2027-01-01T08:00:00Z"}},
		{name: "CreateValidFor", args: create + "--percent 5 --valid-for 7d", wantStdout: []string{"168h after assignment"}},
		{name: "CreateFormat", args: create + "--percent 5 --alphabet numeric --length 6 --no-check --group 3 --prefix SPRING-", wantStdout: []string{`numeric, 6 symbols, groups of 3, prefix "SPRING-"`}},
		{name: "CreateNoGroups", args: create + "--percent 5 --group 0", wantStdout: []string{"crockford, 11 symbols + check symbol\n"}},
		{name: "CreateKindDefaults", args: create + "--percent 5 --kind welcome", wantStdout: []string{"one per customer   yes", "bound to customer  yes"}},
		{name: "CreateOverrideDefaults", args: create + "--percent 5 --kind welcome --one-per-customer=false --bound=false --max-redemptions 3", wantStdout: []string{"one per customer   no", "bound to customer  no", "uses per code      3"}},
		{name: "CreateReferral", args: create + "--kind referral --percent 5 --reward-campaign gen", wantStdout: []string{"codes of gen", "uses per code      10"}},
		{name: "CreateMinGuessOdds", args: create + "--percent 5 --min-guess-odds 1000", wantStdout: []string{"1 in 1000"}},
		{name: "CreateNoBenefit", args: create + "--name x", wantCode: 2, wantStderr: []string{"a benefit is required: --percent 10"}},
		{name: "CreateTwoBenefits", args: create + "--percent 5 --free-shipping", wantCode: 2, wantStderr: []string{"give one benefit, not --percent and --free-shipping"}},
		{name: "CreateAmountWithoutCurrency", args: create + "--amount 500", wantCode: 2, wantStderr: []string{"--currency: required for an amount benefit"}},
		{name: "CreatePercentTooBig", args: create + "--percent 300", wantCode: 2, wantStderr: []string{"--percent: a percent benefit is 1 to 100, got 300"}},
		{name: "CreateAmountNotAnInteger", args: create + "--amount 5.00 --currency EUR", wantCode: 2, wantStderr: []string{`--amount: "5.00" is not a whole number, e.g. --amount 2000 (20.00 in cents)`}},
		{name: "CreateBadDate", args: create + "--percent 5 --expires 2027-13-01", wantCode: 2, wantStderr: []string{`--expires: want an RFC 3339 time such as 2027-01-31T00:00:00Z or a date such as 2027-01-31, got "2027-13-01"`}},
		{name: "CreateBadStart", args: create + "--percent 5 --starts tomorrow", wantCode: 2, wantStderr: []string{"--starts: want an RFC 3339 time"}},
		{name: "CreateEndsBeforeStart", args: create + "--percent 5 --starts 2027-02-01 --expires 2027-01-01", wantCode: 2, wantStderr: []string{"--expires: must be after --starts\n"}},
		{name: "CreateBadDuration", args: create + "--percent 5 --valid-for 2weeks", wantCode: 2, wantStderr: []string{`--valid-for: want a duration such as "48h", "90m" or "7d", got "2weeks"`}},
		{name: "CreateBadID", args: "campaign create Bad_ID --percent 5", wantCode: 2, wantStderr: []string{"ID: want 1 to 64 lower-case letters"}},
		{name: "CreateBadKind", args: create + "--percent 5 --kind weekly", wantCode: 2, wantStderr: []string{"--kind: want one of welcome"}},
		{name: "CreateBadAlphabet", args: create + "--percent 5 --alphabet AB!", wantCode: 2, wantStderr: []string{"--alphabet: symbol '!' is not a letter or digit"}},
		{name: "CreateBadBool", args: create + "--percent 5 --bound=maybe", wantCode: 2, wantStderr: []string{"--bound takes no value, or =true or =false"}},
		{name: "CreateReferralWithoutReward", args: create + "--kind referral --percent 5", wantCode: 2, wantStderr: []string{"--reward-campaign: required for a referral campaign"}},
		{name: "CreateReferralBound", args: create + "--kind referral --percent 5 --reward-campaign gen --bound", wantCode: 2, wantStderr: []string{"--bound: a referral code is redeemed by others"}},
		{name: "CreateReferralUnknownReward", args: create + "--kind referral --percent 5 --reward-campaign nosuch", wantCode: 1, wantStderr: []string{`--reward-campaign: no campaign "nosuch"; create it first`}},
		{name: "CreateExisting", args: "campaign create gen --percent 5", wantCode: 1, wantStderr: []string{`campaign "gen" already exists`}},
		{name: "CreateMissingID", args: "campaign create --percent 5", wantCode: 2, wantStderr: []string{"missing ID"}},
		{name: "CreateNewDatabase", args: "--db $DIR/new.db campaign create c1 --percent 5", wantStdout: []string{"created campaign c1"}},
		{name: "List", args: "campaign list", wantStdout: []string{"ID", "EXPIRES", "gen", "10% off", "welcome", "5.00 EUR off", "paused"}},
		{name: "ListEmpty", setup: []step{{args: "--db $DIR/new.db campaign create c1 --percent 5"}}, args: "--db $DIR/new.db campaign list", wantStdout: []string{"c1"}},
		{name: "Show", args: "campaign show gen", wantStdout: []string{"gen", "4 (generated 0, imported 4)", "available 4"}},
		{name: "ShowUnknown", args: "campaign show nosuch", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},
		{name: "Pause", args: "campaign pause gen", wantStdout: []string{"campaign gen is paused"}},
		{name: "PausedRefuses", setup: []step{{args: "campaign pause gen"}}, args: "validate ABCD2345", wantCode: 1, wantStderr: []string{"paused"}},
		{name: "Resume", setup: []step{{args: "campaign pause gen"}}, args: "campaign resume gen", wantStdout: []string{"campaign gen is active"}},
		{name: "Archive", args: "campaign archive gen", wantStdout: []string{"campaign gen is archived"}},
		{name: "ArchivedStaysArchived", setup: []step{{args: "campaign archive gen"}}, args: "campaign resume gen", wantCode: 1, wantStderr: []string{"an archived campaign stays archived"}},
		{name: "PauseUnknown", args: "campaign pause nosuch", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},
	})
}

func TestRun_Codes(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "Generate", args: "generate gen --count 25", wantStdout: []string{"generated 25 codes for campaign gen (batch b"}},
		{name: "GenerateFlagFirst", args: "generate --count 1 gen", wantStdout: []string{"generated 1 code "}},
		{name: "GenerateWithoutCount", args: "generate gen", wantCode: 2, wantStderr: []string{"--count is required"}},
		{name: "GenerateZero", args: "generate gen --count 0", wantCode: 2, wantStderr: []string{"--count: want 1 to"}},
		{name: "GenerateUnknownCampaign", args: "generate nosuch --count 1", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},
		{name: "GenerateArchived", setup: []step{{args: "campaign archive gen"}}, args: "generate gen --count 1", wantCode: 1, wantStderr: []string{"archived"}},
		{name: "GenerateCapacity", setup: []step{{args: "campaign create tiny --percent 5 --alphabet numeric --length 4 --no-check"}},
			args: "generate tiny --count 100", wantCode: 1, wantStderr: []string{"promo: "}},

		{name: "Import", args: "import gen $DIR/codes.txt", wantStdout: []string{"imported 2 codes into campaign gen (batch b"}},
		{name: "ImportStdin", args: "import gen -", stdin: "code\nNEWC0DE9\n", wantStdout: []string{"imported 1 code into campaign gen"}},
		{name: "ImportFlagFirst", args: "import --skip-invalid gen -", stdin: "NEWC0DE9\n", wantStdout: []string{"imported 1 code "}},
		{name: "ImportCSV", args: "import gen -", stdin: "name,Coupon Code\nx,NEWC0DE8\ny,NEWC0DE9\n", wantStdout: []string{"imported 2 codes"}},
		{name: "ImportAgain", setup: []step{{args: "import gen $DIR/codes.txt"}}, args: "import gen $DIR/codes.txt",
			wantStdout: []string{"imported 0 codes", "2 codes were already present"}},
		{name: "ImportBadLines", args: "import gen -", stdin: "NEWC0DE9\nBAD!\nNEWC0DE9\nWXYZ1111\n", wantCode: 2,
			wantStderr: []string{`line 2: "BAD!": '!' is not a letter`, "line 3: \"NEWC0DE9\": repeats line 1", `line 4: "WXYZ1111": already a code of campaign welcome`, "nothing was imported"}},
		{name: "ImportSkipInvalid", args: "import gen - --skip-invalid", stdin: "NEWC0DE9\nBAD!\n",
			wantStdout: []string{"imported 1 code", "skipped 1 line:", `line 2: "BAD!"`}},
		{name: "ImportMissingFile", args: "import gen $DIR/nosuch.txt", wantCode: 2, wantStderr: []string{"cannot read", "nosuch.txt: no such file or directory"}},
		{name: "ImportDirectory", args: "import gen $DIR", wantCode: 2, wantStderr: []string{"it is a directory"}},
		{name: "ImportMissingFileArgument", args: "import gen", wantCode: 2, wantStderr: []string{"missing FILE"}},
		{name: "ImportUnknownCampaign", args: "import nosuch $DIR/codes.txt", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},

		{name: "Export", args: "export gen", wantStdout: []string{"code,campaign,state,customer_id,channel,assigned_at,expires_at,redemption_count,batch\n", "ABCD2345,gen,available,,,,,0,b"}},
		{name: "ExportState", setup: []step{{args: "redeem ABCD2345"}}, args: "export gen --state redeemed", wantStdout: []string{"ABCD2345,gen,redeemed"}, notStdout: []string{"BCDE3456"}},
		{name: "ExportOut", args: "export gen --out $DIR/out.csv", wantStdout: []string{"exported 4 codes to"}},
		{name: "ExportRedemptions", setup: []step{{args: "redeem ABCD2345 --amount 1000 --order o-1"}}, args: "export gen --redemptions",
			wantStdout: []string{"id,code,campaign,customer_id,order_id,order_amount,currency,discount", "rd_1,ABCD2345,gen,,o-1,1000,EUR,100"}},
		{name: "ExportJSON", args: "--json export gen --state available", wantStdout: []string{`{"code":"ABCD2345","campaign":"gen","state":"available"`}},
		{name: "ExportBadState", args: "export gen --state used", wantCode: 2, wantStderr: []string{"--state: want available, assigned, redeemed or voided"}},
		{name: "ExportRedemptionsWithState", args: "export gen --redemptions --state available", wantCode: 2, wantStderr: []string{"--state applies to codes"}},
		{name: "ExportUnknownCampaign", args: "export nosuch", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},
		{name: "ExportOutMissingDirectory", args: "export gen --out $DIR/no/such/out.csv", wantCode: 2, wantStderr: []string{"cannot write", "no such file or directory"}},

		{name: "Code", args: "code abcd-2345", wantStdout: []string{"ABCD2345", "gen", "available", "0 of 1"}},
		{name: "CodeWithRedemptions", setup: []step{{args: "redeem ABCD2345 --customer bob"}}, args: "code ABCD2345", wantStdout: []string{"redeemed", "REDEMPTIONS", "rd_1", "bob"}},
		{name: "CodeUnknown", args: "code NOSUCH99", wantCode: 1, wantStderr: []string{"no such code"}},
		{name: "CodeTypo", args: "code 7K3M-Q9XD-2RTN", wantCode: 1, wantStderr: []string{"this code has a typo"}},
		{name: "CodeMalformed", args: "code ABC!", wantCode: 1, wantStderr: []string{"is not a promo code"}},

		{name: "Void", args: "void ABCD2345 --reason lost", wantStdout: []string{"code ABCD2345 of campaign gen is voided"}},
		{name: "VoidedRefuses", setup: []step{{args: "void ABCD2345"}}, args: "redeem ABCD2345", wantCode: 1, wantStderr: []string{"voided"}},
		{name: "VoidUnknown", args: "void NOSUCH99", wantCode: 1, wantStderr: []string{"no such code"}},
	})
}

func TestRun_Assign(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "One", args: "assign welcome --customer alice", wantStdout: []string{"WXYZ1111", "alice", "email"}},
		{name: "Again", setup: []step{{args: "assign welcome --customer alice"}}, args: "assign welcome --customer alice", wantStdout: []string{"WXYZ1111"}},
		{name: "Channel", args: "assign --channel app welcome --customer alice", wantStdout: []string{"app"}},
		{name: "BadChannel", args: "assign welcome --customer alice --channel fax", wantCode: 2, wantStderr: []string{"--channel: want one of email"}},
		{name: "NoCustomer", args: "assign welcome", wantCode: 2, wantStderr: []string{"--customer C or --customers FILE.csv is required"}},
		{name: "Both", args: "assign welcome --customer a --customers $DIR/customers.csv", wantCode: 2, wantStderr: []string{"not both"}},
		{name: "OutWithoutCustomers", args: "assign welcome --customer a --out $DIR/x.csv", wantCode: 2, wantStderr: []string{"--out is for --customers"}},
		{name: "Expired", args: "assign old --customer alice", wantCode: 1, wantStderr: []string{`campaign "old" ended at 2020-01-31T23:59:59Z`}},
		{name: "Bulk", args: "assign welcome --customers $DIR/customers.csv",
			wantStdout: []string{"customer_id,email,name,code\n", "alice,alice@example.com,Alice,WXYZ1111\n", "bob,,Bob,WXYZ2222\n"}},
		{name: "BulkStdin", args: "assign welcome --customers - --channel mail", stdin: "carol\ndave\n",
			wantStdout: []string{"carol,,,WXYZ1111\n", "dave,,,WXYZ2222\n"}},
		{name: "BulkOut", args: "assign welcome --customers $DIR/customers.csv --out $DIR/mail.csv", wantStdout: []string{"assigned codes to 2 customers:", "mail.csv"}},
		{name: "BulkBadLines", args: "assign welcome --customers -", stdin: "customer_id,channel\nalice,fax\n,email\n", wantCode: 2,
			wantStderr: []string{`line 2: "alice": channel "fax" is not one of`, "nothing was assigned"}},
		{name: "AssignUsedUp", setup: []step{{args: "assign welcome --customer alice"}, {args: "redeem WXYZ1111 --customer alice --amount 5000 --order o-7 --terminal till-2"}},
			args: "assign welcome --customer alice", wantCode: 1, wantStdout: []string{"WXYZ1111", "uses      1 of 1"},
			wantStderr: []string{"promo: alice already used their code WXYZ1111 of welcome on ", " at till-2, order o-7 (rd_1): a customer gets one code of this campaign"}},
		{name: "BulkMissingFile", args: "assign welcome --customers $DIR/nosuch.csv", wantCode: 2, wantStderr: []string{"cannot read"}},
	})
}

func TestRun_Redeem(t *testing.T) {
	assignAlice := step{args: "assign welcome --customer alice"}
	referral := []step{
		{args: "campaign create refer --kind referral --percent 15 --reward-campaign gen"},
		{args: "import refer -", stdin: "REFR1111\n"},
		{args: "assign refer --customer alice"},
	}
	referred := append(referral[:len(referral):len(referral)], step{args: "redeem REFR1111 --customer bob"})
	runScenarios(t, []scenario{
		{name: "RedeemReferral", setup: referral, args: "redeem REFR1111 --customer bob", wantStdout: []string{"rd_1", "reward code  ABCD2345 (for the referrer)"}},
		{name: "RedeemReferralOwnCode", setup: referral, args: "redeem REFR1111 --customer alice", wantCode: 1, wantStderr: []string{"a referrer cannot redeem their own referral code"}},
		{name: "ReferralStats", setup: referred, args: "stats refer", wantStdout: []string{"TOP REFERRERS", "alice", "REFR1111",
			// Rates that cannot pass 100%, each saying what it divides.
			"use rate       10.0%: 1 redemption of the 10 uses its codes allow\n",
			"assigned used  100.0%: 1 of the 1 code handed out used at least once\n",
			"handed out     1 code ever assigned to a customer\n"}},
		{name: "PrintedCodesStats", setup: []step{{args: "redeem ABCD2345 --amount 5000"}}, args: "stats gen", wantStdout: []string{
			"use rate       25.0%: 1 redemption of the 4 uses its codes allow\n",
			"assigned used  - (no code assigned to a customer: see the use rate)\n"}},
		{name: "OverviewMoneyByCurrency", setup: append(referred[:len(referred):len(referred)], step{args: "redeem ABCD2345 --amount 5000"}),
			args: "stats", wantStdout: []string{"HANDED OUT", "USE RATE", "MONEY BY CURRENCY", "by currency below"}},
		{name: "ReferralCustomer", setup: referred, args: "customer alice", wantStdout: []string{"REWARDS", "ABCD2345"}},
		{name: "ReferralRollbackVoidsReward", setup: referred, args: "rollback rd_1", wantStdout: []string{"rolled back rd_1",
			"voided the referrer's reward code ABCD2345, which this referral had earned (it was unused)"}},
		{name: "ReferralRollbackKeepsUsedReward", setup: append(referred[:len(referred):len(referred)], step{args: "redeem ABCD2345 --customer alice"}),
			args: "rollback rd_1", wantStdout: []string{"the referrer's reward code ABCD2345 stays: it was already used or voided"}},
		{name: "Validate", args: "validate ABCD2345 --amount 4999 --currency EUR", wantStdout: []string{"valid", "yes", "10% off", "5.00 EUR on an order of 49.99 EUR"}},
		{name: "ValidateUnknown", args: "validate NOSUCH99", wantCode: 1, wantStderr: []string{"not valid: no such code"}},
		{name: "ValidateRedeemed", setup: []step{{args: "redeem ABCD2345"}}, args: "validate ABCD2345", wantCode: 1, wantStderr: []string{"not valid: this code was already redeemed"}},
		{name: "ValidateMinOrder", setup: []step{assignAlice}, args: "validate WXYZ1111 --customer alice --amount 1000", wantCode: 1, wantStderr: []string{"below this code's minimum of 20.00"}},
		{name: "ValidateWrongCustomer", setup: []step{assignAlice}, args: "validate WXYZ1111 --customer bob --amount 5000", wantCode: 1, wantStderr: []string{"this code belongs to another customer"}},
		{name: "ValidateExpired", args: "validate EXPD1111", wantCode: 1, wantStderr: []string{"expired"}},
		{name: "ValidateNotStarted", args: "validate FUTR1111", wantCode: 1, wantStderr: []string{"this code is valid from 2099-01-01T00:00:00Z"}},
		{name: "ValidatePaused", args: "validate PAUS1111", wantCode: 1, wantStderr: []string{"paused"}},
		{name: "ValidateOtherCurrency", args: "validate ABCD2345 --currency USD", wantCode: 1, wantStderr: []string{"--currency: the order is in USD but the campaign is in EUR"}},
		{name: "ValidateBadCurrency", args: "validate ABCD2345 --currency euros", wantCode: 2, wantStderr: []string{`--currency: want an ISO 4217 code such as "EUR"`}},
		{name: "ValidateNegativeAmount", args: "validate ABCD2345 --amount -5", wantCode: 2, wantStderr: []string{"--amount: want 0 to"}},
		{name: "ValidateJSONNotValid", setup: []step{{args: "redeem ABCD2345"}}, args: "validate ABCD2345 --json", wantCode: 1,
			wantStdout: []string{`{"valid":false,"reason":"already_redeemed"`},
			wantStderr: []string{`{"error":{"code":"already_redeemed","message":"this code was already redeemed (last on `}},

		{name: "Redeem", args: "redeem ABCD2345 --customer alice --order o-1 --amount 4999 --currency EUR --terminal till-1",
			wantStdout: []string{"rd_1", "ABCD2345", "alice", "o-1", "49.99 EUR", "5.00 EUR", "till-1"}},
		{name: "RedeemTwice", setup: []step{{args: "redeem ABCD2345"}}, args: "redeem ABCD2345", wantCode: 1, wantStderr: []string{"promo: this code was already redeemed (last on "}},
		{name: "RedeemAssigned", setup: []step{assignAlice}, args: "redeem wxyz-1111 --customer alice --amount 5000", wantStdout: []string{"WXYZ1111", "5.00 EUR"}},
		{name: "RedeemBoundWithoutCustomer", setup: []step{assignAlice}, args: "redeem WXYZ1111 --amount 5000", wantCode: 1, wantStderr: []string{"this code belongs to a customer"}},
		{name: "RedeemCustomerLimit", setup: []step{assignAlice, {args: "redeem WXYZ1111 --customer alice --amount 5000"}},
			args: "redeem WXYZ2222 --customer alice --amount 5000", wantCode: 1, wantStderr: []string{"this customer already redeemed a code of the campaign"}},
		{name: "RedeemExpired", args: "redeem EXPD1111", wantCode: 1, wantStderr: []string{"this code expired at 2020-01-31T23:59:59Z"}},
		{name: "RedeemBadAmount", args: "redeem ABCD2345 --amount 12.50", wantCode: 2, wantStderr: []string{`--amount: "12.50" is not a whole number`}},
		{name: "RedeemLongTerminal", args: "redeem ABCD2345 --terminal " + strings.Repeat("t", 65), wantCode: 2, wantStderr: []string{"--terminal: at most 64 bytes"}},

		{name: "Rollback", setup: []step{{args: "redeem ABCD2345"}}, args: `rollback rd_1 --reason "order cancelled"`, wantStdout: []string{"rolled back rd_1: code ABCD2345 can be used again"}},
		{name: "RollbackThenRedeem", setup: []step{{args: "redeem ABCD2345"}, {args: "rollback rd_1"}}, args: "redeem ABCD2345", wantStdout: []string{"rd_2"}},
		{name: "RollbackTwice", setup: []step{{args: "redeem ABCD2345"}, {args: "rollback rd_1"}}, args: "rollback rd_1", wantCode: 1, wantStderr: []string{"was already rolled back"}},
		{name: "RollbackUnknown", args: "rollback rd_99", wantCode: 1, wantStderr: []string{`no redemption "rd_99"`}},
		{name: "RollbackMalformed", args: "rollback 42", wantCode: 1, wantStderr: []string{"ids look like rd_123"}},
	})
}

func TestRun_Reports(t *testing.T) {
	redeemAtTill := step{args: "redeem ABCD2345 --customer alice --amount 5000 --terminal till-1"}
	runScenarios(t, []scenario{
		{name: "Stats", setup: []step{redeemAtTill}, args: "stats",
			wantStdout: []string{"CAMPAIGN", "gen", "welcome", "TOTAL", "REJECTED LOOKUPS", "FILTER", "false positives", "events"}},
		{name: "StatsCampaign", setup: []step{redeemAtTill, {args: "validate ABCD2345", code: 1}}, args: "stats gen",
			wantStdout: []string{"gen (gen), generic, active", "1 in force", "5.00 EUR on orders of 50.00 EUR", "DAILY", "█", "BY TERMINAL", "till-1", "REFUSALS", "already_redeemed"}},
		{name: "StatsUnknown", args: "stats nosuch", wantCode: 1, wantStderr: []string{`no campaign "nosuch"`}},
		{name: "StatsTwoArguments", args: "stats gen welcome", wantCode: 2, wantStderr: []string{`unexpected argument "welcome"`}},
		{name: "Customer", setup: []step{{args: "assign welcome --customer alice"}, redeemAtTill}, args: "customer alice",
			wantStdout: []string{"customer alice", "CODES", "WXYZ1111", "REDEMPTIONS", "rd_1", "ABCD2345"}},
		{name: "CustomerUnknown", args: "customer nobody", wantCode: 1, wantStderr: []string{`no customer "nobody"`}},
		{name: "Events", args: "events", wantStdout: []string{"1      ", "campaign.created       campaign=gen", "codes.imported", "count=4"}},
		{name: "EventsAfter", args: "events --after 10", wantStdout: []string{"11 "}, notStdout: []string{"campaign=gen "}},
		{name: "EventsLimit", args: "events --limit 1", wantStdout: []string{"campaign=gen\n"}, notStdout: []string{"codes.imported"}},
		{name: "EventsRedeemed", setup: []step{redeemAtTill}, args: "events --after 11", wantStdout: []string{"code.redeemed", "code=ABCD2345", "customer=alice", "terminal=till-1", "discount=500"}},
		{name: "EventsBadLimit", args: "events --limit -1", wantCode: 2, wantStderr: []string{"--limit: want 1 or more"}},
		{name: "KeysCreate", args: "keys create till-1 --role pos", wantStdout: []string{"created key till-1 (role pos)", "pk_", "will not be shown again"}},
		{name: "KeysCreateNewDatabase", args: "--db $DIR/new.db keys create admin --role admin", wantStdout: []string{"pk_"}},
		{name: "KeysCreateWithoutRole", args: "keys create till-1", wantCode: 2, wantStderr: []string{"--role is required"}},
		{name: "KeysCreateBadRole", args: "keys create till-1 --role boss", wantCode: 2, wantStderr: []string{"--role: want admin, issuer or pos"}},
		{name: "KeysCreateBadName", args: "keys create Till! --role pos", wantCode: 2, wantStderr: []string{"NAME: want 1 to 64 lower-case"}},
		{name: "KeysCreateTwice", setup: []step{{args: "keys create till-1 --role pos"}}, args: "keys create till-1 --role pos", wantCode: 1, wantStderr: []string{`a key named "till-1" exists`}},
		{name: "KeysList", setup: []step{{args: "keys create till-1 --role pos"}}, args: "keys list", wantStdout: []string{"NAME", "till-1", "pos", "pk_"}},
		{name: "KeysListEmpty", args: "keys list", wantStdout: []string{"no API keys yet"}},
		{name: "KeysRevoke", setup: []step{{args: "keys create till-1 --role pos"}}, args: "keys revoke till-1", wantStdout: []string{"revoked key till-1"}},
		{name: "KeysRevoked", setup: []step{{args: "keys create till-1 --role pos"}, {args: "keys revoke till-1"}}, args: "keys list", notStdout: []string{"till-1"}},
		{name: "KeysRevokeUnknown", args: "keys revoke nosuch", wantCode: 1, wantStderr: []string{`no key named "nosuch"`}},
		{name: "Backup", args: "backup $DIR/copy.db", wantStdout: []string{"wrote", "copy.db", "kB"}},
		{name: "BackupOntoItself", args: "backup $DB --db $DB", wantCode: 2, wantStderr: []string{"is the database itself"}},
		{name: "BackupMissingDirectory", args: "backup $DIR/no/such/copy.db", wantCode: 2, wantStderr: []string{"cannot write"}},
		{name: "BackupMissingArgument", args: "backup", wantCode: 2, wantStderr: []string{"missing FILE"}},
		{name: "Check", args: "check", wantStdout: []string{"ok\n"}},
		{name: "CheckJSON", args: "check --json", wantStdout: []string{`{"ok":true,"findings":[]}`}},
		{name: "ServeBadAddr", args: "serve --addr nonsense", wantCode: 2, wantStderr: []string{`--addr: want HOST:PORT such as :8080`}},
		{name: "ServeArgument", args: "serve now", wantCode: 2, wantStderr: []string{`unexpected argument "now"`}},
	})
}

func TestRun_Controls(t *testing.T) {
	hold := step{args: "validate ABCD2345 --customer ann --hold 15m"}
	runScenarios(t, []scenario{
		{name: "Budget", args: "campaign budget gen --redemptions 1 --discount 5000", wantStdout: []string{"campaign gen: budget 1 redemptions, 50.00 EUR of discount"}},
		{name: "BudgetExhausted", setup: []step{{args: "campaign budget gen --redemptions 1"}, {args: "redeem ABCD2345"}},
			args: "redeem BCDE3456", wantCode: 1, wantStderr: []string{"has used its budget of 1 redemptions"}},
		{name: "BudgetInStats", setup: []step{{args: "campaign budget gen --redemptions 3"}, {args: "redeem ABCD2345"}},
			args: "stats gen", wantStdout: []string{"BUDGET", "redemptions  3", "BATCHES"}},
		{name: "BudgetNone", setup: []step{{args: "campaign budget gen --redemptions 1"}}, args: "campaign budget gen --none", wantStdout: []string{"campaign gen has no budget"}},
		{name: "BudgetNeither", args: "campaign budget gen", wantCode: 2, wantStderr: []string{"give --redemptions N and/or --discount N, or --none"}},
		{name: "BudgetNegative", args: "campaign budget gen --redemptions -1", wantCode: 2, wantStderr: []string{"--redemptions: want 0"}},
		{name: "CreateWithBudget", args: "campaign create b --percent 5 --budget-redemptions 10", wantStdout: []string{"budget", "10 redemptions"}},
		{name: "Hold", args: "validate ABCD2345 --customer ann --hold 15m", wantStdout: []string{"held", "hd_1 until", "--hold-id hd_1"}},
		{name: "HoldWithoutCustomer", args: "validate ABCD2345 --hold 15m", wantCode: 2, wantStderr: []string{"--customer: required with hold"}},
		{name: "HoldBadDuration", args: "validate ABCD2345 --customer ann --hold soon", wantCode: 2, wantStderr: []string{"--hold: want a duration"}},
		{name: "HeldForAnother", setup: []step{hold}, args: "redeem ABCD2345 --customer ben", wantCode: 1, wantStderr: []string{"held for another customer's cart"}},
		{name: "RedeemWithHold", setup: []step{hold}, args: "redeem ABCD2345 --customer ann --hold-id hd_1", wantStdout: []string{"hold used   hd_1"}},
		{name: "ReleaseHold", setup: []step{hold}, args: "hold release hd_1", wantStdout: []string{"released hold hd_1 of code ABCD2345 (customer ann)"}},
		{name: "ReleaseUnknown", args: "hold release hd_9", wantCode: 1, wantStderr: []string{"no live hold hd_9"}},
		{name: "VoidBatch", setup: []step{{args: "redeem ABCD2345"}}, args: `void --campaign gen --reason "leaked"`, wantStdout: []string{"voided 3 codes of campaign gen"}},
		{name: "VoidBatchUnknown", args: "void --campaign gen --batch b99", wantCode: 1, wantStderr: []string{`has no batch "b99"`}},
		{name: "VoidBatchWithoutCampaign", args: "void --batch b1", wantCode: 2, wantStderr: []string{"--batch goes with --campaign ID"}},
		{name: "Erase", setup: []step{{args: "assign welcome --customer alice"}}, args: "customer erase alice", wantStdout: []string{"erased customer: now erased-", "1 codes, 1 of them voided"}},
		{name: "EraseUnknown", args: "customer erase nobody", wantCode: 1, wantStderr: []string{`no customer "nobody"`}},
		{name: "WebhookAdd", args: "webhooks add https://crm.example.com/promo --events code.redeemed,redemption.rolled_back", wantStdout: []string{"added webhook wh_", "whsec_"}},
		{name: "WebhookList", setup: []step{{args: "webhooks add https://crm.example.com/promo --events *"}}, args: "webhooks list", wantStdout: []string{"https://crm.example.com/promo", "ok"}},
		{name: "WebhookBadEvent", args: "webhooks add https://crm.example.com/promo --events code.eaten", wantCode: 2, wantStderr: []string{`--events: unknown event type "code.eaten"`}},
		{name: "WebhookNoEvents", args: "webhooks add https://crm.example.com/promo", wantCode: 2, wantStderr: []string{"--events is required"}},
		{name: "WebhookRemoveUnknown", args: "webhooks remove wh_nope", wantCode: 1, wantStderr: []string{`no webhook "wh_nope"`}},
		{name: "WebhookDeliveriesUnknown", args: "webhooks deliveries wh_nope", wantCode: 1, wantStderr: []string{`no webhook "wh_nope"`}},
		{name: "BackupRotation", setup: []step{{args: "backup --dir $DIR/bk --keep 1"}}, args: "backup --dir $DIR/bk --keep 1", wantStdout: []string{"/bk/promo-"}},
		// An older backup is always there to remove (two runs within one
		// second would write the same name): the removal is reported on
		// stdout, as what the command did.
		{name: "BackupRotationRemoves", setup: []step{{args: "backup --dir $DIR/bk"}, {args: "backup $DIR/bk/promo-20000101-000000.db"}}, args: "backup --dir $DIR/bk --keep 1",
			wantStdout: []string{"removed the old backup $DIR/bk/promo-20000101-000000.db\n"}},
		{name: "BackupKeepWithoutDir", args: "backup $DIR/x.db --keep 2", wantCode: 2, wantStderr: []string{"--keep goes with --dir DIR"}},
		{name: "ServiceUnit", args: "service-unit --binary /usr/local/bin/promo --tls-self-signed", wantStdout: []string{"ExecStart=/usr/local/bin/promo --db /var/lib/promo/promo.db serve --addr :8443 --tls-self-signed", "DynamicUser=yes"}},
	})
}
