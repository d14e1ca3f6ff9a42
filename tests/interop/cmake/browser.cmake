# The browser interop tests (browser_test.cc): headless Chromium from Debian (`chromium`), driven by
# tests/interop/browser/driver.js through playwright-core from npm. `npm ci` installs the locked playwright-core into
# the build dir (node_modules is never committed; playwright downloads no browser, it runs /usr/bin/chromium). Without
# node, npm or chromium the tests skip, except under CI=true, where they fail.
find_program(TETHER_NODE node)
find_program(TETHER_NPM npm)
find_program(TETHER_CHROMIUM NAMES chromium chromium-browser)
set(browser_source_dir ${CMAKE_CURRENT_SOURCE_DIR}/browser)
set(browser_build_dir ${CMAKE_CURRENT_BINARY_DIR}/browser)
set(browser_driver ${browser_build_dir}/driver.js)
set(browser_stamp ${browser_build_dir}/node_modules/.tether-npm-ci)
if(TETHER_NODE AND TETHER_NPM)
  add_custom_command(
    OUTPUT ${browser_stamp}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${browser_build_dir}
    COMMAND ${CMAKE_COMMAND} -E copy ${browser_source_dir}/package.json ${browser_source_dir}/package-lock.json
            ${browser_build_dir}
    COMMAND ${TETHER_NPM} ci --no-audit --no-fund --silent
    COMMAND ${CMAKE_COMMAND} -E touch ${browser_stamp}
    WORKING_DIRECTORY ${browser_build_dir}
    DEPENDS ${browser_source_dir}/package.json ${browser_source_dir}/package-lock.json
    COMMENT "npm ci tests/interop/browser (playwright-core)"
    VERBATIM)
  # Next to its node_modules, so that require('playwright-core') resolves.
  add_custom_command(
    OUTPUT ${browser_driver}
    COMMAND ${CMAKE_COMMAND} -E copy ${browser_source_dir}/driver.js ${browser_driver}
    DEPENDS ${browser_source_dir}/driver.js ${browser_stamp}
    VERBATIM)
  add_custom_target(tether_browser_driver ALL DEPENDS ${browser_stamp} ${browser_driver})
  add_dependencies(tether_interop_tests tether_browser_driver)
else()
  message(STATUS "node/npm not found: the browser interop tests will skip (and fail under CI=true)")
  set(TETHER_NODE node)
endif()
if(NOT TETHER_CHROMIUM)
  message(STATUS "chromium not found (deploy/setup.sh installs it): the browser interop tests will skip (and fail under CI=true)")
  set(TETHER_CHROMIUM /usr/bin/chromium)
endif()
target_compile_definitions(tether_interop_tests PRIVATE
  TETHER_NODE="${TETHER_NODE}"
  TETHER_CHROMIUM="${TETHER_CHROMIUM}"
  TETHER_BROWSER_DRIVER="${browser_driver}")
