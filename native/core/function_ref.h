// FunctionRef: a non-owning reference to a callable, for callbacks that run
// during the call that receives them (the ring's record writers and readers).
// Unlike std::function it never allocates and costs one indirect call.
#pragma once
#include <type_traits>
#include <utility>

namespace mp {

template <typename Signature>
class FunctionRef;

template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit, like std::function
      : target_(const_cast<void*>(static_cast<const void*>(&f))), call_([](void* target, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(target))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(target_, std::forward<Args>(args)...); }

 private:
  void* target_;
  R (*call_)(void*, Args...);
};

}  // namespace mp
