# tests/memcheck/: make memcheck — the unit suites, the fuzz replays and the
# real apikeyd of the server and API tests under valgrind's memcheck: zero
# errors and zero definite or indirect leaks, or the target fails. Uses the
# normal build/ (valgrind and the sanitizers do not mix). See run.sh.
.PHONY: memcheck
memcheck:
	$(Q)./scripts/install-deps.sh memcheck
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/memcheck/run.sh
