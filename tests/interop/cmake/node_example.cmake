# examples/node behind tether (node_example_test.cc): the sources and the lockfile are copied into the build dir and
# `npm ci` installs Express there (npm_ci.cmake, through the machine's npm registry). Without node or npm the tests
# skip, except under CI=true, where they fail.
include(${CMAKE_CURRENT_LIST_DIR}/npm_ci.cmake)
set(TETHER_NODE_EXAMPLE_DIR ${CMAKE_CURRENT_BINARY_DIR}/node_example)
if(TETHER_NODE AND TETHER_NPM)
  set(node_example_src ${CMAKE_SOURCE_DIR}/examples/node)
  file(GLOB node_example_sources CONFIGURE_DEPENDS RELATIVE ${node_example_src} ${node_example_src}/*.js
       ${node_example_src}/lib/*.js)
  tether_npm_ci(tether_node_example
    SOURCE_DIR ${node_example_src}
    BUILD_DIR ${TETHER_NODE_EXAMPLE_DIR}
    FILES ${node_example_sources}
    COMMENT "npm ci examples/node")
else()
  message(STATUS "node or npm not found: the Node interop tests will skip (and fail under CI=true)")
  set(TETHER_NODE node)
endif()
target_compile_definitions(tether_interop_tests PRIVATE
  TETHER_NODE="${TETHER_NODE}"
  TETHER_NODE_EXAMPLE_DIR="${TETHER_NODE_EXAMPLE_DIR}")
