#include "common.hpp"
#include "tokenops/text/unicode.hpp"
#include "tokenops/text/utf8.hpp"

namespace tokenops::bindings {

void bind_text(py::module_& m) {
  m.def("unicode_version", &text::unicode_version,
        "Unicode version of the character tables compiled into the core.");
  m.def(
      "find_invalid_utf8",
      [](py::bytes data) -> py::object {
        std::string_view v = data;
        std::size_t bad = text::find_invalid_utf8(v);
        if (bad == std::string_view::npos) return py::none();
        return py::int_(bad);
      },
      py::arg("data"), "Offset of the first byte that is not valid UTF-8, or None.");
  m.def(
      "general_category",
      [](std::uint32_t cp) {
        static const char* names[] = {"Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd",
                                      "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                                      "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co"};
        if (cp > 0x10FFFF) throw py::value_error("code point out of range");
        return std::string(names[static_cast<int>(text::general_category(cp))]);
      },
      py::arg("codepoint"), "Unicode general category of a code point, from the core's tables.");
}

}  // namespace tokenops::bindings
