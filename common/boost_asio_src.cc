// Boost.Asio's and Boost.Beast's compiled parts, once for every binary
// (BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are set
// for the whole tree in CMakeLists.txt): each file that uses them then compiles
// only the templates it instantiates, which takes a third off the compile time of
// the gateway's files (docs/security.md, "Sanitizers, and what CI runs").
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
