# examples/node behind tether (node_example_test.cc): the sources and the lockfile are copied into the build dir and
# `npm ci` installs Express there (through the machine's npm registry; node_modules never lands in the source tree,
# and each preset has its own). Without node or npm the tests skip, except under CI=true, where they fail.
find_program(TETHER_NODE node)
find_program(TETHER_NPM npm)
set(TETHER_NODE_EXAMPLE_DIR ${CMAKE_CURRENT_BINARY_DIR}/node_example)
if(TETHER_NODE AND TETHER_NPM)
  set(node_example_src ${CMAKE_SOURCE_DIR}/examples/node)
  file(GLOB node_example_sources CONFIGURE_DEPENDS ${node_example_src}/*.js ${node_example_src}/lib/*.js)
  file(MAKE_DIRECTORY ${TETHER_NODE_EXAMPLE_DIR})
  set(node_example_stamp ${TETHER_NODE_EXAMPLE_DIR}/node_modules/.tether-npm-ci)
  add_custom_command(
    OUTPUT ${node_example_stamp}
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${node_example_src}/lib ${TETHER_NODE_EXAMPLE_DIR}/lib
    COMMAND ${CMAKE_COMMAND} -E copy ${node_example_src}/http-server.js ${node_example_src}/express-server.js
            ${node_example_src}/package.json ${node_example_src}/package-lock.json ${TETHER_NODE_EXAMPLE_DIR}
    COMMAND ${TETHER_NPM} ci --no-audit --no-fund --loglevel=error
    COMMAND ${CMAKE_COMMAND} -E touch ${node_example_stamp}
    WORKING_DIRECTORY ${TETHER_NODE_EXAMPLE_DIR}
    DEPENDS ${node_example_sources} ${node_example_src}/package.json ${node_example_src}/package-lock.json
    COMMENT "npm ci examples/node"
    VERBATIM)
  add_custom_target(tether_node_example ALL DEPENDS ${node_example_stamp})
  add_dependencies(tether_interop_tests tether_node_example)
else()
  message(STATUS "node or npm not found: the Node interop tests will skip (and fail under CI=true)")
  set(TETHER_NODE node)
endif()
target_compile_definitions(tether_interop_tests PRIVATE
  TETHER_NODE="${TETHER_NODE}"
  TETHER_NODE_EXAMPLE_DIR="${TETHER_NODE_EXAMPLE_DIR}")
