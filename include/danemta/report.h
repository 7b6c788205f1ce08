/*
 * A destination plan for people and programs: one JSON object per domain
 * (schema in docs/check-json.md, versioned by its "schema" member) and a
 * human trace of every step.  The checker's later stages add members to
 * the same object.
 */
#ifndef DANEMTA_REPORT_H
#define DANEMTA_REPORT_H

#include <stdbool.h>

#include <jansson.h>

#include "danemta/plan.h"

#define REPORT_SCHEMA 1	      /* report_plan_json(): the plan alone */
#define REPORT_CHECK_SCHEMA 2 /* report_check_json(): danemta check */
#define REPORT_HEX_SHORT 8    /* hex digits of TLSA data shown without -v */

/* The plan as a new JSON object (caller json_decref()s it). */
json_t *report_plan_json(const struct plan *p);

/*
 * The plan as the start of a `danemta check` object: the members of
 * report_plan_json() with "schema" REPORT_CHECK_SCHEMA and the plan's
 * reason under "policy_reason" ("reason" goes with the delivery verdict
 * the check adds).  A new object (caller json_decref()s it).
 */
json_t *report_check_json(const struct plan *p);

/*
 * The plan as trace lines, each ending in '\n': a header line, one line
 * per host, a policy line.  verbose shows TLSA data in full.  Returns a
 * malloc'ed string (caller frees).
 */
char *report_plan_text(const struct plan *p, bool verbose);

/*
 * A presented chain (dane.h, struct dane_info) as a new JSON array, leaf
 * first, one object per certificate: depth, subject, issuer, spki_sha256,
 * cert_sha256.  Caller json_decref()s it.
 */
struct dane_info;
json_t *report_chain_json(const struct dane_info *ti);

#endif
