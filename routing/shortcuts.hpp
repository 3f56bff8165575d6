// Questions about a statement answered without the classifier's lexer, for the shapes most statements have.
#pragma once

#include <string_view>

namespace baton::routing {

// True when classify(sql) surely finds no pin and no session SET: what transaction pooling must
// know of every statement, without the read/write verdict (routing asks classify() for that).
// The first word is SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, BEGIN, COMMIT, END or ROLLBACK,
// and nowhere is there a quote (' " `), '@', '#', comment ("--", "/*"), '$' other than a
// parameter ($1), ';' other than a final one, or, in any case and inside a word or not, TEMP, PG_,
// LOC or GLOB (temporary tables and pg_temp, session-level advisory locks, LOCAL and GLOBAL after
// SELECT ... INTO, MySQL's GET_LOCK). Pins and SETs come only from the first word of a statement
// or from those, in PostgreSQL and MySQL alike, so a true is never wrong; false only means "ask
// classify()" (as for a column named "template"). About 320 instructions for pgbench's select
// against about 600 for classify()'s own shortcut (16 bytes at a time, SSE2 where there is one).
bool leaves_session_alone(std::string_view sql);

}  // namespace baton::routing
