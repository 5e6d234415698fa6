/* no_entry.c — provokes "missing entry point": a loadable library that exports no teabag_reducers. */
int tb_fixture_not_a_reducer(void) { return 42; }
