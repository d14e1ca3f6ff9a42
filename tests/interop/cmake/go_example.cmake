# examples/go behind tether (go_example_test.cc): built like go_h2_upstream, offline in GOPATH mode against Debian's
# golang.org/x/net (h2c), CGO off. Without go the tests skip, except under CI=true, where they fail.
set(TETHER_GO_EXAMPLE ${CMAKE_CURRENT_BINARY_DIR}/go_example)
if(TETHER_GO)
  file(GLOB TETHER_GO_EXAMPLE_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/examples/go/*.go)
  add_custom_command(
    OUTPUT ${TETHER_GO_EXAMPLE}
    COMMAND ${CMAKE_COMMAND} -E env GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= CGO_ENABLED=0
            GOCACHE=${CMAKE_CURRENT_BINARY_DIR}/gocache ${TETHER_GO} build -o ${TETHER_GO_EXAMPLE} .
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/examples/go
    DEPENDS ${TETHER_GO_EXAMPLE_SOURCES}
    COMMENT "Building examples/go"
    VERBATIM)
  add_custom_target(tether_go_example ALL DEPENDS ${TETHER_GO_EXAMPLE})
  add_dependencies(tether_interop_tests tether_go_example)
endif()
target_compile_definitions(tether_interop_tests PRIVATE TETHER_GO_EXAMPLE="${TETHER_GO_EXAMPLE}")
