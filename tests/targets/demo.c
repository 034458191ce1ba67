/* The `make demo` program: a session cache that is never evicted (the leak,
 * 64 KiB/s) beside request handling that allocates more but frees it all, a
 * bigger lookup table loaded once, and a bounded log ring that stops growing. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct session {
	struct session *next;
	char buffer[4096 - sizeof(void *)];
};

static struct session *sessions; /* grows forever: nobody evicts */

__attribute__((noinline)) static void leak_session_buffer(void)
{
	struct session *s = malloc(sizeof(*s));

	if (!s)
		return;
	memset(s->buffer, 'x', sizeof(s->buffer));
	s->next = sessions;
	sessions = s;
}

__attribute__((noinline)) static void parse_request(void)
{
	char *headers = malloc(16384);

	if (headers) {
		memset(headers, 0, 16384);
		free(headers);
	}
}

__attribute__((noinline)) static void render_response(void)
{
	void *parts[8];

	for (int i = 0; i < 8; i++)
		parts[i] = calloc(1, 2048);
	for (int i = 0; i < 8; i++)
		free(parts[i]);
}

__attribute__((noinline)) static void *load_table(void)
{
	return calloc(1, 1 << 20);
}

/* Keeps the last 32 log lines: grows for 2 s, then stays flat. */
__attribute__((noinline)) static void log_request(void)
{
	static char *ring[32];
	static unsigned next;
	char *line = malloc(512);

	free(ring[next % 32]);
	ring[next++ % 32] = line;
}

int main(void)
{
	void *volatile table = load_table();

	(void)table;
	/* 16 requests a second, each one leaking a 4 KiB session: 64 KiB/s. */
	for (;;) {
		for (int i = 0; i < 16; i++) {
			parse_request();
			render_response();
			leak_session_buffer();
			log_request();
			usleep(62500);
		}
	}
}
