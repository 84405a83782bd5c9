# The Debian package (`make deb`, or `cpack -G DEB` in a build tree): CPack's DEB
# generator over the install components below.
#
#   runtime  the three binaries (bin/), man pages, bash completion, docs
#   service  /lib/systemd/system/laneway.service and the conffile
#            /etc/laneway/laneway.toml; EXCLUDE_FROM_ALL, so a plain `make install`
#            never writes to /etc or /lib
# The maintainer scripts (packaging/debian/) create the `laneway` system user, its
# state directory /var/lib/laneway and the gateway token.
find_program(LANEWAY_GZIP gzip)
set(LANEWAY_MAN_GZ)
foreach(page laneway.1 laneway-supervisor.1 laneway-worker.1)
  set(gz ${CMAKE_BINARY_DIR}/man/${page}.gz)
  add_custom_command(
    OUTPUT ${gz}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND ${LANEWAY_GZIP} -9nc ${CMAKE_SOURCE_DIR}/packaging/man/${page} > ${gz}
    DEPENDS ${CMAKE_SOURCE_DIR}/packaging/man/${page}
    COMMENT "gzip ${page}")
  list(APPEND LANEWAY_MAN_GZ ${gz})
endforeach()
set(LANEWAY_DOC_DIR ${CMAKE_BINARY_DIR}/doc)
add_custom_command(
  OUTPUT ${LANEWAY_DOC_DIR}/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${LANEWAY_DOC_DIR}
  COMMAND ${LANEWAY_GZIP} -9nc ${CMAKE_SOURCE_DIR}/packaging/debian/changelog > ${LANEWAY_DOC_DIR}/changelog.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/debian/changelog)
add_custom_target(laneway_man ALL DEPENDS ${LANEWAY_MAN_GZ} ${LANEWAY_DOC_DIR}/changelog.gz)

install(FILES ${LANEWAY_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
install(FILES packaging/laneway.bash-completion DESTINATION share/bash-completion/completions
        RENAME laneway COMPONENT runtime)
install(FILES packaging/debian/copyright ${LANEWAY_DOC_DIR}/changelog.gz README.md
              docs/operations.md docs/config.md docs/protocol.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
install(FILES packaging/laneway.service DESTINATION /lib/systemd/system COMPONENT service
        EXCLUDE_FROM_ALL)
install(FILES packaging/laneway.toml DESTINATION /etc/laneway COMPONENT service EXCLUDE_FROM_ALL)

# CPack runs `make preinstall`; without this that would build every target (tests
# too). `make deb` and the PackageDeb test build what the package holds first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME laneway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# lintian flags the placeholder address (bogus-mail-host): set the real one with
# -DLANEWAY_DEB_MAINTAINER="Name <address>".
set(LANEWAY_DEB_MAINTAINER "laneway maintainers <laneway@localhost>" CACHE STRING
    "Maintainer: field of the .deb")
set(CPACK_PACKAGE_CONTACT "${LANEWAY_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gateway supervisor for AI-agent conversation sessions")
set(CPACK_PACKAGE_DESCRIPTION
    "laneway runs every conversation session's turns in a worker process of that\n session's own, one turn at a time, and kills and restarts any worker whose run\n overruns, so that no session can block another or the gateway. It serves a\n WebSocket/HTTP gateway port with Prometheus metrics and a control page, and\n runs as a hardened systemd service (Type=notify with a watchdog).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL runtime service)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # laneway_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: libzmq5, libcurl4, libsystemd0, ...
# libcurl4 by name too: the worker dlopens it for the openai runner (curl_api.h), which
# dpkg-shlibdeps cannot see.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, libcurl4")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_SOURCE_DIR}/packaging/debian/postinst ${CMAKE_SOURCE_DIR}/packaging/debian/prerm
    ${CMAKE_SOURCE_DIR}/packaging/debian/postrm ${CMAKE_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/deb)
include(CPack)
