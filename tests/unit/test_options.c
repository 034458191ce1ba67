/* Command-line parsing: values, conflicts, spawn commands. */
#include "options.h"
#include "unit.h"

static int parse(struct options *o, char *err, const char *a, const char *b, const char *c,
		 const char *d)
{
	char *argv[] = { "leaktop", (char *)a, (char *)b, (char *)c, (char *)d, NULL };
	int argc = 1;

	while (argc < 5 && argv[argc])
		argc++;
	return options_parse(argc, argv, o, err, 256);
}

TEST(options_defaults_with_pid)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-p", "42", NULL, NULL), 0);
	CHECK_INT(o.pid, 42);
	CHECK(o.command == NULL);
	CHECK(o.interval_s == DEFAULT_INTERVAL_S);
	CHECK(o.window_s == DEFAULT_WINDOW_S);
	CHECK_INT(o.count, 0);
	CHECK_INT(o.top, 0);
	CHECK(!o.json && !o.batch);
	CHECK_INT(o.max_allocs, DEFAULT_MAX_ALLOCS);
	CHECK(!o.max_allocs_given);
}

TEST(options_fractional_interval_and_long_names)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "--interval", "0.25", "--pid=7", "--json"), 0);
	CHECK(o.interval_s == 0.25);
	CHECK_INT(o.pid, 7);
	CHECK(o.json);
}

TEST(options_spawn_command_keeps_its_arguments)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-c", "3", "--", "sleep"), 0);
	CHECK_INT(o.count, 3);
	CHECK_STR(o.command[0], "sleep");
	CHECK(o.command[1] == NULL);
	/* Options after the command belong to the command. */
	CHECK_INT(parse(&o, err, "--", "ls", "-p", "1"), 0);
	CHECK_STR(o.command[1], "-p");
	CHECK_INT(o.pid, 0);
}

TEST(options_reject_bad_values)
{
	const char *bad[][2] = {
		{ "-i", "0" }, { "-i", "-1" }, { "-i", "abc" }, { "-i", "nan" }, { "-i", "1e9" },
		{ "-c", "0" }, { "-c", "-5" }, { "-n", "0" }, { "-n", "10x" }, { "-p", "abc" },
		{ "-p", "0" }, { "-p", "-3" }, { "--window", "0" }, { "--max-allocs", "1" },
		{ "-s", "-1" }, { "-s", "x" },
	};
	struct options o;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_INT(parse(&o, err, bad[i][0], bad[i][1], "-p", "1"), -1);
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	}
}

TEST(options_need_exactly_one_target)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-i", "1", NULL, NULL), -1);
	CHECK(strstr(err, "-p PID") != NULL);
	CHECK_INT(parse(&o, err, "-p", "1", "--", "ls"), -1);
	CHECK(strstr(err, "not both") != NULL);
}

TEST(options_unknown_and_missing_values)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "--bogus", "-p", "1", NULL), -1);
	CHECK(strstr(err, "--bogus") != NULL);
	CHECK_INT(parse(&o, err, "-p", NULL, NULL, NULL), -1);
	CHECK(strstr(err, "needs a value") != NULL);
}

TEST(options_help)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "--help", NULL, NULL, NULL), 0);
	CHECK(o.help);
	CHECK(strstr(options_usage, "--json") != NULL);
}

TEST(options_duty_cycle_is_a_percentage)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-p", "1", NULL, NULL), 0);
	CHECK(o.duty_cycle == 1);
	CHECK_INT(parse(&o, err, "-p", "1", "--duty-cycle", "12.5"), 0);
	CHECK(o.duty_cycle == 0.125);
	CHECK_INT(parse(&o, err, "-p", "1", "--duty-cycle", "0.5"), -1);
	CHECK_INT(parse(&o, err, "-p", "1", "--duty-cycle", "101"), -1);
	CHECK_INT(parse(&o, err, "-p", "1", "--duty-cycle", "ten"), -1);
	CHECK(strstr(err, "--duty-cycle") != NULL);
}

TEST(options_sample_bytes)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-s", "65536", "-p", "1"), 0);
	CHECK_INT(o.sample_bytes, 65536);
	CHECK_INT(parse(&o, err, "--sample-bytes=0", "-p", "1", NULL), 0);
	CHECK_INT(o.sample_bytes, 0);
}

TEST(max_allocs_given_is_kept_apart_from_the_default)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-p", "1", "--max-allocs", "4096"), 0);
	CHECK_INT(o.max_allocs, 4096);
	CHECK(o.max_allocs_given);
}

TEST(max_allocs_follow_the_targets_resident_size)
{
	CHECK_INT(max_allocs_for(0), ATTACHED_MIN_ALLOCS);
	CHECK_INT(max_allocs_for(10 << 20), ATTACHED_MIN_ALLOCS); /* small: the least */
	CHECK_INT(max_allocs_for(64ULL << 20), DEFAULT_MAX_ALLOCS); /* 64 MiB / 256 B = 256 k */
	CHECK_INT(max_allocs_for((64ULL << 20) + 256), 2 * DEFAULT_MAX_ALLOCS);
	CHECK_INT(max_allocs_for(200ULL << 20), 1048576);
	CHECK_INT(max_allocs_for(64ULL << 30), AUTO_MAX_ALLOCS_LIMIT); /* capped */
}

TEST(options_pid_lists_and_children)
{
	struct options o;
	char err[256];

	CHECK_INT(parse(&o, err, "-p", "3,4", "-p", "5"), 0);
	CHECK_INT(o.npids, 3);
	CHECK_INT(o.pids[0], 3);
	CHECK_INT(o.pids[1], 4);
	CHECK_INT(o.pids[2], 5);
	CHECK_INT(o.pid, 3);
	CHECK(!o.children); /* attached: only when asked */
	CHECK_INT(parse(&o, err, "-p", "3", "--children", NULL), 0);
	CHECK(o.children);
	CHECK_INT(parse(&o, err, "--", "ls", NULL, NULL), 0);
	CHECK(o.children); /* spawn mode: followed by default */
	CHECK_INT(parse(&o, err, "--no-children", "--", "ls", NULL), 0);
	CHECK(!o.children);
	CHECK_INT(parse(&o, err, "-p", "3,", NULL, NULL), -1);
	CHECK(strstr(err, "PID list") != NULL);
	CHECK_INT(parse(&o, err, "-p", "3,x", NULL, NULL), -1);
	CHECK(strstr(err, "'x'") != NULL);
	CHECK_INT(parse(&o, err, "--cgroup", "/sys/fs/cgroup/a", "-p", "3"), -1);
	CHECK_INT(parse(&o, err, "--unit", "nginx", NULL, NULL), 0);
	CHECK(o.unit && !o.children);
}
