# Every test gets a TIMEOUT, so a test that hangs (a deadlock after a failed
# assertion, say) fails on its own instead of stalling `make test`.
#
# gtest_discover_tests: wrapped so each call's PROPERTIES start with
# TIMEOUT ${MURMUR_TEST_TIMEOUT}; a call that sets its own TIMEOUT overrides
# it (the later value wins). add_test is wrapped the same way.
set(MURMUR_TEST_TIMEOUT 300 CACHE STRING "Default per-test timeout (s)")

include(GoogleTest)
macro(gtest_discover_tests target)
  set(_murmur_args ${ARGN})
  list(FIND _murmur_args PROPERTIES _murmur_props_at)
  if(_murmur_props_at EQUAL -1)
    list(APPEND _murmur_args PROPERTIES TIMEOUT ${MURMUR_TEST_TIMEOUT})
  else()
    math(EXPR _murmur_props_at "${_murmur_props_at} + 1")
    list(INSERT _murmur_args ${_murmur_props_at} TIMEOUT ${MURMUR_TEST_TIMEOUT})
  endif()
  _gtest_discover_tests(${target} ${_murmur_args})
endmacro()

# add_test(NAME n ...): n gets the default TIMEOUT right away; a later
# set_tests_properties(n PROPERTIES TIMEOUT ...) in the same file overrides it.
macro(add_test)
  _add_test(${ARGN})
  if("${ARGV0}" STREQUAL "NAME")
    set_tests_properties(${ARGV1} PROPERTIES TIMEOUT ${MURMUR_TEST_TIMEOUT})
  endif()
endmacro()
