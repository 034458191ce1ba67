/* Stack slots: claimed when the kernel writes a key in them, read every
 * interval, given back when idle.
 *
 * A slot goes WAITING (no stack yet: never used, or pushed on free_slots)
 * -> HELD (the kernel wrote a key for the generation it waited for) -> back
 * to WAITING when userspace gives it back:
 *   1. delete its stack_index entry: allocations on its key from then on
 *      take a new slot;
 *   2. bump its generation, by compare-and-swap, only while its allocation
 *      count is zero.  A call that read the index entry before the delete
 *      and counts its block in the slot after the bump sees the new
 *      generation in the word it added to, takes its add back and looks
 *      its key up again (bpf/leaktop.bpf.c, account()); one that counted
 *      before the bump makes the swap fail, and the slot is tried again at
 *      the next reading;
 *   3. push it on free_slots.
 * A slot of an exec'd program image is reset instead: its live allocations
 * were dropped with the image (drop_other_generations), so its figures are
 * zeroed; a release already past its generation check may still take its
 * bytes off, so the slot rests one reading, is zeroed again, then pushed.
 *
 * The kernel's native and Python stacks are deleted a reading after the last
 * held slot naming them is given back.  Those no slot ever named (the call
 * that stored one found no slot, or failed) are swept every SLOT_IDLE_S:
 * deleted when still unnamed at the next sweep. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "grow.h"
#include "id_map.h"
#include "slots.h"

enum slot_state { SLOT_WAITING, SLOT_HELD, SLOT_RESTING, SLOT_EVICTED /* resting from the next reading */ };

struct slot {
	struct stack *stack;	/* HELD: its stack, once built */
	uint32_t idle;		/* readings in a row at zero */
	int64_t peak;		/* HELD: the most bytes it has held */
	uint32_t since_peak;	/* readings since it last rose above its peak */
	uint16_t gen;		/* WAITING: the generation its next stack gets;
				 * else its stack's */
	uint16_t exec_gen;	/* HELD: its key's program image */
	uint8_t state;
	uint8_t tries;		/* builds that found the key's stacks missing */
	bool queued;		/* WAITING on free_slots */
};

/* A kernel stack no slot names any more, deleted a reading later if still
 * none does (a new slot may name it meanwhile). */
struct unnamed {
	uint64_t id;
	uint64_t reading;
	bool python;		/* in py_stacks, else stack_traces */
};

struct slot_table {
	const struct collection *c;
	struct stack_table *stacks;
	struct slot_maps maps;
	struct slot *slots;
	struct stack_stats *figures;	/* of every slot, copied at the start of a
					 * reading: the slow work that follows
					 * (symbolizing, giving slots back) must not
					 * skew the snapshot */
	uint32_t nslots;
	uint32_t queued;	/* slots on free_slots */
	uint32_t held;
	uint32_t claims, last_claims; /* slots claimed this reading, the last one */
	uint64_t given_back;
	uint64_t reading;
	/* Stacks evicted (live stacks outnumbered the slots), with the
	 * figures they held, untracked from then on; the kernel's count of
	 * allocations that found no slot, at the last reading. */
	uint64_t evicted, evicted_allocs;
	int64_t evicted_bytes;
	uint64_t stacks_lost;
	void (*evicted_fn)(void *ctx, struct stack *st);
	void *evicted_ctx;
	/* Held slots whose keys name each native (by stack id) and Python
	 * stack of the kernel's maps. */
	struct id_map trace_refs, py_refs;
	struct unnamed *unnamed;
	size_t nunnamed, unnamed_capacity;
	/* Stacks unnamed at the last sweep, and when the next one is due. */
	struct id_map swept_traces, swept_py;
	uint64_t next_sweep;
};

struct slot_table *slot_table_new(const struct collection *c, struct stack_table *stacks,
				  const struct slot_maps *maps)
{
	struct slot_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(c->nslots, sizeof(*t->slots));
	t->figures = calloc(c->nslots, sizeof(*t->figures));
	if (!t->slots || !t->figures) {
		free(t->slots);
		free(t->figures);
		free(t);
		return NULL;
	}
	t->c = c;
	t->stacks = stacks;
	t->maps = *maps;
	t->nslots = c->nslots;
	return t;
}

void slot_table_free(struct slot_table *t)
{
	if (!t)
		return;
	id_map_free(&t->trace_refs);
	id_map_free(&t->py_refs);
	id_map_free(&t->swept_traces);
	id_map_free(&t->swept_py);
	free(t->unnamed);
	free(t->slots);
	free(t->figures);
	free(t);
}

uint32_t slot_table_held(const struct slot_table *t)
{
	return t->held;
}

uint64_t slot_table_given_back(const struct slot_table *t)
{
	return t->given_back;
}

void slot_table_on_eviction(struct slot_table *t, void (*fn)(void *ctx, struct stack *st), void *ctx)
{
	t->evicted_fn = fn;
	t->evicted_ctx = ctx;
}

uint64_t slot_table_evicted(const struct slot_table *t, uint64_t *allocs, int64_t *bytes)
{
	if (allocs)
		*allocs = t->evicted_allocs;
	if (bytes)
		*bytes = t->evicted_bytes;
	return t->evicted;
}

/* One held slot more (delta 1) or less (-1) names the stack `id`. */
static void name_stack(struct slot_table *t, struct id_map *refs, uint64_t id, int delta, bool python)
{
	uint64_t n = id_map_get(refs, id) + (uint64_t)(int64_t)delta;
	struct unnamed *grown;

	if (id_map_set(refs, id, n) || n)
		return; /* out of memory: the stack stays in the kernel's map */
	grown = grow_array(t->unnamed, &t->unnamed_capacity, t->nunnamed + 1, sizeof(*grown), 256);
	if (!grown)
		return;
	t->unnamed = grown;
	t->unnamed[t->nunnamed++] = (struct unnamed){ id, t->reading, python };
}

static void name_stacks(struct slot_table *t, const struct stack_key *key, int delta)
{
	if (key->stack_id >= 0)
		name_stack(t, &t->trace_refs, (uint64_t)key->stack_id, delta, false);
	if (key->py_stack)
		name_stack(t, &t->py_refs, key->py_stack, delta, true);
}

/* Stacks are deleted from stack_traces between these two: the kernel
 * remembers the ids of stacks it stored only while none is (see
 * store_trace_once()). */
static void traces_deleting(const struct slot_maps *maps)
{
	if (maps->traces_seq)
		__atomic_fetch_add(maps->traces_seq, 1, __ATOMIC_SEQ_CST);
}

static void traces_deleted(const struct slot_maps *maps)
{
	traces_deleting(maps); /* even again */
}

/* Deletes the kernel's stacks that have been unnamed since an earlier
 * reading (in order of reading: the oldest come first). */
static void delete_unnamed(struct slot_table *t)
{
	size_t done = 0;
	bool deleting = false;

	for (; done < t->nunnamed && t->unnamed[done].reading < t->reading; done++) {
		const struct unnamed *u = &t->unnamed[done];

		if (u->python) {
			if (!id_map_get(&t->py_refs, u->id))
				bpf_map_delete_elem(t->maps.py_stacks_fd, &u->id);
		} else if (!id_map_get(&t->trace_refs, u->id)) {
			__u32 id = (__u32)u->id;

			if (!deleting)
				traces_deleting(&t->maps);
			deleting = true;
			bpf_map_delete_elem(t->maps.traces_fd, &id);
		}
	}
	if (deleting)
		traces_deleted(&t->maps);
	memmove(t->unnamed, t->unnamed + done, (t->nunnamed - done) * sizeof(*t->unnamed));
	t->nunnamed -= done;
}

/* Deletes the stacks of a map (stack_traces: 32-bit keys, py_stacks:
 * 64-bit) that no held slot names and that were unnamed at the last sweep
 * too; remembers the others that are unnamed now.  maps: for stack_traces
 * (traces_seq), NULL for py_stacks. */
static void sweep(int fd, const struct id_map *refs, struct id_map *swept, const struct slot_maps *maps)
{
	struct id_map unnamed = { 0 };
	uint64_t key = 0, next = 0, *doomed = NULL;
	size_t ndoomed = 0, capacity = 0;
	void *prev = NULL;

	/* Deleting while walking would restart the walk: collect first. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		uint64_t id = next; /* a 32-bit key fills the low half (x86) */
		uint64_t *grown;

		key = next;
		prev = &key;
		if (id_map_get(refs, id))
			continue;
		if (!id_map_get(swept, id)) {
			id_map_set(&unnamed, id, 1);
			continue;
		}
		grown = grow_array(doomed, &capacity, ndoomed + 1, sizeof(*grown), 256);
		if (!grown)
			break;
		doomed = grown;
		doomed[ndoomed++] = id;
	}
	if (ndoomed && maps)
		traces_deleting(maps);
	for (size_t i = 0; i < ndoomed; i++)
		bpf_map_delete_elem(fd, &doomed[i]);
	if (ndoomed && maps)
		traces_deleted(maps);
	free(doomed);
	id_map_free(swept);
	*swept = unnamed;
}

/* A waiting slot whose key the kernel has written: held from now on. */
static bool claim(struct slot_table *t, uint32_t slot)
{
	struct slot *s = &t->slots[slot];
	struct stack_key key;

	if (!collection_slot_key(t->c, slot, s->gen, &key))
		return false;
	if (s->queued)
		t->queued--;
	*s = (struct slot){ .gen = s->gen, .exec_gen = key.generation, .state = SLOT_HELD };
	name_stacks(t, &key, 1);
	t->held++;
	t->claims++;
	return true;
}

/* The slot's stack and the kernel stacks its key names are let go. */
static void unhold(struct slot_table *t, uint32_t slot, const struct stack_key *key)
{
	struct slot *s = &t->slots[slot];

	if (s->stack)
		stack_table_put(t->stacks, s->stack);
	s->stack = NULL;
	name_stacks(t, key, -1);
	t->held--;
}

static void push(struct slot_table *t, uint32_t slot)
{
	struct slot *s = &t->slots[slot];

	s->state = SLOT_WAITING;
	/* Cannot fail: the queue holds every slot. */
	if (bpf_map_update_elem(t->maps.free_fd, NULL, &slot, BPF_ANY) == 0) {
		s->queued = true;
		t->queued++;
	}
	t->given_back++;
}

/* The key of a held slot (written before it was claimed, unchanged since). */
static void held_key(const struct slot_table *t, uint32_t slot, struct stack_key *key)
{
	*key = *(const struct stack_key *)&t->c->keys[slot].key;
}

/* Step 1 of giving a slot back: its key no longer finds it (unless the key
 * has another slot already: this one lost the race to make it). */
static void unindex(struct slot_table *t, uint32_t slot, const struct stack_key *key)
{
	struct slot_ref ref;

	if (bpf_map_lookup_elem(t->maps.index_fd, key, &ref) == 0 && ref.slot == slot &&
	    ref.gen == t->slots[slot].gen)
		bpf_map_delete_elem(t->maps.index_fd, key);
}

static uint64_t gen_word(uint16_t gen)
{
	return (uint64_t)gen << SLOT_GEN_SHIFT;
}

/* Gives a held slot back, when nothing is counted in it (see the top). */
static void give_back(struct slot_table *t, uint32_t slot)
{
	volatile struct stack_stats *st = &t->c->stats[slot];
	struct slot *s = &t->slots[slot];
	uint64_t expected = gen_word(s->gen);
	struct stack_key key;

	held_key(t, slot, &key);
	unindex(t, slot, &key);
	if (__atomic_load_n(&st->bytes, __ATOMIC_SEQ_CST) != 0 ||
	    !__atomic_compare_exchange_n(&st->allocs_gen, &expected, gen_word(s->gen + 1), false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return; /* a call counted a block meanwhile: try again later */
	unhold(t, slot, &key);
	s->gen++;
	push(t, slot);
}

/* A slot of an exec'd program image, or evicted: zeroed and bumped now
 * (its live allocations' releases then take nothing off: their records
 * carry the old generation), pushed after a reading at rest.  Returns the
 * allocation count (in 1/COUNT_UNIT) it held. */
static int64_t reset(struct slot_table *t, uint32_t slot)
{
	volatile struct stack_stats *st = &t->c->stats[slot];
	struct slot *s = &t->slots[slot];
	uint64_t old = __atomic_load_n(&st->allocs_gen, __ATOMIC_SEQ_CST);
	struct stack_key key;

	held_key(t, slot, &key);
	unindex(t, slot, &key);
	while (!__atomic_compare_exchange_n(&st->allocs_gen, &old, gen_word(s->gen + 1), false,
					    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	__atomic_store_n(&st->bytes, 0, __ATOMIC_SEQ_CST);
	unhold(t, slot, &key);
	s->gen++;
	s->state = SLOT_RESTING;
	return slot_allocs(old);
}

static void end_rest(struct slot_table *t, uint32_t slot)
{
	__atomic_store_n(&t->c->stats[slot].bytes, 0, __ATOMIC_SEQ_CST);
	push(t, slot);
}

/* The held slot's stack, built on first need; NULL while the kernel stacks
 * its key names are missing (deleted as unnamed while a call that had them
 * was making this slot; the next call on the stack stores them again): up to
 * two readings, then it is built from what there is. */
static struct stack *slot_stack(struct slot_table *t, uint32_t slot)
{
	struct slot *s = &t->slots[slot];
	struct stack_key key;
	bool missing;

	if (s->stack)
		return s->stack;
	held_key(t, slot, &key);
	s->stack = stack_table_build(t->stacks, &key, &missing);
	if (s->stack && missing && s->tries < 2) {
		s->tries++;
		stack_table_put(t->stacks, s->stack);
		s->stack = NULL;
	}
	return s->stack;
}

void slot_table_name_new(struct slot_table *t, uint32_t used, uint16_t exec_gen,
			 void (*before)(void *ctx), void *ctx)
{
	if (used > t->nslots)
		used = t->nslots;
	for (uint32_t slot = 0; slot < used; slot++) {
		struct slot *s = &t->slots[slot];

		if (s->state == SLOT_WAITING && !claim(t, slot))
			continue;
		/* One whose kernel stacks were missing waits for the readings. */
		if (s->state == SLOT_HELD && !s->stack && !s->tries && s->exec_gen == exec_gen) {
			if (before)
				before(ctx);
			before = NULL;
			slot_stack(t, slot);
		}
	}
}

/* A held slot that may be evicted, and what it is worth keeping for. */
struct candidate {
	uint32_t slot;
	int64_t bytes;
};

static int fewer_bytes(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->bytes < y->bytes ? -1 : x->bytes > y->bytes;
}

/* Live stacks outnumber the slots: allocations on new stacks found none
 * since the last reading, and none is free.  Evicts the least useful held
 * stacks (none that rose to a new peak in the last EVICT_STILL readings; of
 * the others those holding fewest bytes), at most one slot per allocation
 * that found none and EVICT_SHARE of the slots a reading.  Their figures
 * leave the report (counted in slot_table_evicted); their slots go to new
 * stacks after a reading at rest. */
static void evict(struct slot_table *t, uint32_t used, uint16_t exec_gen, uint64_t lost)
{
	uint64_t wanted = lost, most = t->nslots / EVICT_SHARE ? t->nslots / EVICT_SHARE : 1;
	struct candidate *c;
	size_t n = 0;

	if (wanted > most)
		wanted = most;
	c = malloc((size_t)used * sizeof(*c));
	if (!c)
		return;
	for (uint32_t slot = 0; slot < used; slot++) {
		const struct slot *s = &t->slots[slot];

		if (s->state == SLOT_HELD && s->exec_gen == exec_gen && s->since_peak >= EVICT_STILL)
			c[n++] = (struct candidate){ slot, t->figures[slot].bytes };
	}
	qsort(c, n, sizeof(*c), fewer_bytes);
	for (size_t i = 0; i < n && i < wanted; i++) {
		int64_t bytes = __atomic_load_n(&t->c->stats[c[i].slot].bytes, __ATOMIC_SEQ_CST), allocs;

		if (t->evicted_fn && t->slots[c[i].slot].stack)
			t->evicted_fn(t->evicted_ctx, t->slots[c[i].slot].stack);
		allocs = reset(t, c[i].slot);
		t->slots[c[i].slot].state = SLOT_EVICTED;

		t->evicted++;
		t->evicted_allocs += allocs > 0 ? (uint64_t)(allocs + COUNT_UNIT / 2) / COUNT_UNIT : 0;
		t->evicted_bytes += bytes;
	}
	free(c);
}

void slot_table_update(struct slot_table *t, uint32_t used, uint16_t exec_gen, double interval_s,
		       uint64_t stacks_lost, slot_stack_fn fn, void *ctx)
{
	uint32_t idle_needed = (uint32_t)fmax(2, ceil(SLOT_IDLE_S / interval_s)), free_slots;

	if (used > t->nslots)
		used = t->nslots; /* full: later slots were never handed out */
	/* Scarce: fewer free than a quarter, or than new stacks take in four
	 * readings at the last one's pace. */
	free_slots = t->nslots - used + t->queued;
	if (free_slots < t->nslots / 4 || free_slots < 4 * (uint64_t)t->last_claims)
		idle_needed = 2;
	t->last_claims = t->claims;
	t->claims = 0;
	/* By the last reading's figures, before this one's go to the model. */
	if (stacks_lost > t->stacks_lost && used >= t->nslots && !t->queued)
		evict(t, used, exec_gen, stacks_lost - t->stacks_lost);
	t->stacks_lost = stacks_lost;
	t->reading++;
	/* Each figure is one aligned 64-bit word, updated atomically. */
	for (uint32_t slot = 0; slot < used; slot++) {
		t->figures[slot].bytes = __atomic_load_n(&t->c->stats[slot].bytes, __ATOMIC_RELAXED);
		t->figures[slot].allocs_gen = __atomic_load_n(&t->c->stats[slot].allocs_gen, __ATOMIC_RELAXED);
	}
	for (uint32_t slot = 0; slot < used; slot++) {
		struct slot *s = &t->slots[slot];
		int64_t bytes = t->figures[slot].bytes, allocs = slot_allocs(t->figures[slot].allocs_gen);
		struct stack *stack;

		if (s->state == SLOT_RESTING) {
			end_rest(t, slot);
			continue;
		}
		if (s->state == SLOT_EVICTED) {
			s->state = SLOT_RESTING;
			continue;
		}
		if (s->state == SLOT_WAITING && !claim(t, slot))
			continue;
		if (s->exec_gen != exec_gen) {
			/* An older program image: gone.  A newer one: next time. */
			if ((int16_t)(uint16_t)(s->exec_gen - exec_gen) < 0)
				reset(t, slot);
			continue;
		}
		if (bytes == 0 && allocs == 0) {
			if (++s->idle >= idle_needed)
				give_back(t, slot);
			continue;
		}
		s->idle = 0;
		if (bytes > s->peak) {
			s->peak = bytes;
			s->since_peak = 0;
		} else {
			s->since_peak++;
		}
		stack = slot_stack(t, slot);
		if (stack) /* counts are kept in 1/COUNT_UNIT (sampled estimates): round */
			fn(ctx, stack, bytes, (allocs + COUNT_UNIT / 2) / COUNT_UNIT);
	}
	/* After the claims: a stack a new slot names is not deleted. */
	delete_unnamed(t);
	if (t->reading >= t->next_sweep) {
		sweep(t->maps.traces_fd, &t->trace_refs, &t->swept_traces, &t->maps);
		sweep(t->maps.py_stacks_fd, &t->py_refs, &t->swept_py, NULL);
		t->next_sweep = t->reading + (uint64_t)ceil(SLOT_IDLE_S / interval_s);
	}
}
