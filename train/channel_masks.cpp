#include "channel_masks.h"

#include <map>
#include <sstream>

#include "common/error.h"

namespace nic {

namespace {

// The channel spaces of a model's transforms, in walking order, with the convolutions that
// produce and read each. The same walk over teacher and student pairs their spaces.
template <typename Space, typename Port, typename Kind>
struct SpaceWalker {
  std::map<const torch::nn::Module*, std::string> names;
  std::vector<Space> spaces;
  int stream = -1;  // the current residual stream's space; -1: fixed (the image, the latents)

  explicit SpaceWalker(ImageCodecModelImpl& model) {
    for (const auto& item : model.named_modules()) names[item.value().get()] = item.key();
    walk_analysis(*model.g_a->body);
    walk_synthesis(*model.g_s->body);
  }

  int new_space(int64_t size) {
    spaces.push_back(Space{});
    spaces.back().size = size;
    return int(spaces.size()) - 1;
  }
  void add(int space, torch::nn::Conv2dImpl& conv, Kind kind, int group = 1) {
    if (space >= 0)
      spaces[size_t(space)].ports.push_back(
          Port{&conv, names.at(&conv), kind, group, conv.weight, conv.bias});
  }

  void block(DepthConvBlockImpl& b) {
    add(stream, *b.dc_in, Kind::Consumer);
    add(stream, *b.ffn_in, Kind::Consumer);
    add(stream, *b.dc_out, Kind::Producer);
    add(stream, *b.ffn_out, Kind::Producer);
    const int d = new_space(b.dc_in->options.out_channels());
    add(d, *b.dc_in, Kind::OutputOnly);
    add(d, *b.dc_depthwise, Kind::Depthwise);
    add(d, *b.dc_out, Kind::Consumer);
    const int f = new_space(b.ffn_in->options.out_channels());
    add(f, *b.ffn_in, Kind::Producer);
    add(f, *b.ffn_out, Kind::Consumer);
  }

  void walk_analysis(torch::nn::SequentialImpl& body) {
    stream = -1;
    for (const auto& child : body.children()) {
      if (auto* d = dynamic_cast<ResidualDownImpl*>(child.get())) {
        const int hidden = new_space(d->conv1->options.out_channels());
        add(hidden, *d->conv1, Kind::Producer);
        add(hidden, *d->conv2, Kind::Consumer);
        add(stream, *d->conv1, Kind::Consumer);
        add(stream, *d->shortcut, Kind::Consumer);
        stream = new_space(d->conv2->options.out_channels());
        add(stream, *d->conv2, Kind::Producer);
        add(stream, *d->shortcut, Kind::Producer);
      } else if (auto* b = dynamic_cast<DepthConvBlockImpl*>(child.get())) {
        block(*b);
      } else if (auto* c = dynamic_cast<torch::nn::Conv2dImpl*>(child.get())) {
        add(stream, *c, Kind::Consumer);
        stream = -1;
      } else {
        throw Error(NIC_ERROR_INTERNAL, "mask decay: unknown analysis layer " + child->name());
      }
    }
  }

  void walk_synthesis(torch::nn::SequentialImpl& body) {
    stream = -1;
    for (const auto& child : body.children()) {
      if (auto* u = dynamic_cast<ResidualUpImpl*>(child.get())) {
        const int group = u->up->factor * u->up->factor;
        const int hidden = new_space(u->conv->options.in_channels());
        add(hidden, *u->up->conv, Kind::Producer, group);
        add(hidden, *u->conv, Kind::Consumer);
        add(stream, *u->up->conv, Kind::Consumer);
        add(stream, *u->shortcut->conv, Kind::Consumer);
        stream = new_space(u->conv->options.out_channels());
        add(stream, *u->conv, Kind::Producer);
        add(stream, *u->shortcut->conv, Kind::Producer, u->shortcut->factor * u->shortcut->factor);
      } else if (auto* b = dynamic_cast<DepthConvBlockImpl*>(child.get())) {
        block(*b);
      } else if (auto* s = dynamic_cast<SubpelConvImpl*>(child.get())) {
        add(stream, *s->conv, Kind::Consumer);
        stream = -1;
      } else {
        throw Error(NIC_ERROR_INTERNAL, "mask decay: unknown synthesis layer " + child->name());
      }
    }
  }
};

// Output-channel indices of space channels `channels` when each owns `group` consecutive ones.
torch::Tensor grouped(const torch::Tensor& channels, int group) {
  if (group == 1) return channels;
  return (channels.unsqueeze(1) * group + torch::arange(group, channels.options()).unsqueeze(0))
      .reshape(-1);
}

}  // namespace

std::string widths_text(const std::array<int, 3>& widths) {
  return std::to_string(widths[0]) + "," + std::to_string(widths[1]) + "," +
         std::to_string(widths[2]);
}

ModelConfig student_config_for(const ModelConfig& teacher, const std::array<int, 3>& widths) {
  ModelConfig student = teacher;
  student.widths = widths;
  for (size_t i = 0; i < 3; ++i)
    if (widths[i] < 1 || widths[i] > teacher.widths[i])
      throw Error(NIC_ERROR_INVALID_ARGUMENT,
                  "--mask-decay-to: the student's widths must be 1 .. the teacher's (" +
                      widths_text(teacher.widths) + ")");
  return student;
}

ChannelMasksImpl::ChannelMasksImpl(ImageCodecModelImpl& teacher, const ModelConfig& student_config,
                                   MaskDecayOptions options)
    : teacher_(teacher), student_config_(student_config), options_(std::move(options)) {
  if (options_.method != "decay" && options_.method != "l1")
    throw Error(NIC_ERROR_INVALID_ARGUMENT, "--mask-decay-method must be decay or l1");
  ImageCodecModel student(student_config_);
  SpaceWalker<Space, Port, PortKind> teacher_walk(teacher), student_walk(*student);
  require(teacher_walk.spaces.size() == student_walk.spaces.size(), NIC_ERROR_INTERNAL,
          "mask decay: teacher and student transforms differ in structure");
  for (size_t i = 0; i < teacher_walk.spaces.size(); ++i) {
    Space space = std::move(teacher_walk.spaces[i]);
    space.target = student_walk.spaces[i].size;
    if (space.target == space.size) continue;  // nothing to cut
    space.mask =
        register_parameter("space" + std::to_string(i),
                           torch::ones({space.size}, space.ports[0].conv->weight.options()));
    spaces_.push_back(std::move(space));
  }
}

void ChannelMasksImpl::apply() {
  for (Space& space : spaces_) {
    for (Port& port : space.ports) {
      if (port.kind != PortKind::Producer && port.kind != PortKind::Depthwise) continue;
      const torch::Tensor m = space.mask.repeat_interleave(port.group);
      port.conv->weight = port.raw_weight * m.view({-1, 1, 1, 1});
      port.conv->bias = port.raw_bias * m;
    }
  }
}

torch::Tensor ChannelMasksImpl::penalty() const {
  if (options_.method != "l1" || spaces_.empty()) return torch::zeros({});
  torch::Tensor sum = torch::zeros({}, spaces_[0].mask.options());
  int64_t count = 0;
  for (const Space& space : spaces_) {
    sum = sum + space.mask.abs().sum();
    count += space.size;
  }
  return options_.l1_strength * sum / double(count);
}

// How much a channel carries: |mask| times the norm of the raw weights that produce it.
torch::Tensor ChannelMasksImpl::ranking_scores(const Space& space) const {
  torch::NoGradGuard no_grad;
  torch::Tensor squares = torch::zeros({space.size}, space.mask.options());
  for (const Port& port : space.ports) {
    if (port.kind != PortKind::Producer && port.kind != PortKind::Depthwise) continue;
    squares +=
        port.raw_weight.pow(2).reshape({space.size, -1}).sum(1);  // a group's rows are consecutive
  }
  return space.mask.detach().abs() * squares.sqrt();
}

torch::Tensor ChannelMasksImpl::kept(const Space& space) const {
  torch::Tensor order = ranking_scores(space).argsort(/*dim=*/0, /*descending=*/true);
  return std::get<0>(order.slice(0, 0, space.target).sort());
}

void ChannelMasksImpl::decay(int64_t steps_into_decay) {
  if (options_.method != "decay") return;
  torch::NoGradGuard no_grad;
  const double envelope =
      std::max(0.0, 1.0 - double(steps_into_decay) / double(options_.decay_steps));
  for (Space& space : spaces_) {
    torch::Tensor removed = ranking_scores(space).argsort().slice(0, 0, space.size - space.target);
    space.mask.index_put_({removed}, space.mask.index({removed}).clamp(-envelope, envelope));
  }
}

ChannelMasksImpl::MaskStatistics ChannelMasksImpl::statistics() const {
  MaskStatistics stats;
  double sum_removed = 0, sum_kept = 0;
  int64_t removed_count = 0, kept_count = 0;
  for (const Space& space : spaces_) {
    const torch::Tensor order = ranking_scores(space).argsort();
    const int64_t cut = space.size - space.target;
    const torch::Tensor mask = space.mask.detach().abs();
    const torch::Tensor removed = mask.index({order.slice(0, 0, cut)});
    const torch::Tensor kept = mask.index({order.slice(0, cut)});
    stats.largest_removed = std::max(stats.largest_removed, removed.max().item<double>());
    sum_removed += removed.sum().item<double>();
    sum_kept += kept.sum().item<double>();
    removed_count += cut;
    kept_count += space.target;
  }
  if (removed_count) stats.mean_removed = sum_removed / double(removed_count);
  if (kept_count) stats.mean_kept = sum_kept / double(kept_count);
  return stats;
}

std::string ChannelMasksImpl::summary() const {
  int64_t channels = 0, cut = 0;
  for (const Space& space : spaces_) {
    channels += space.size;
    cut += space.size - space.target;
  }
  std::ostringstream text;
  text << "mask decay (" << options_.method << "): " << spaces_.size() << " channel spaces, " << cut
       << " of " << channels << " channels to cut";
  return text.str();
}

ImageCodecModel ChannelMasksImpl::cut() const {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> state;
  for (const auto& p : teacher_.named_parameters()) state[p.key()] = p.value().detach().clone();
  for (const auto& b : teacher_.named_buffers()) state[b.key()] = b.value().detach().clone();
  for (const Space& space : spaces_) {
    const torch::Tensor keep = kept(space);
    const torch::Tensor mask = space.mask.detach();
    for (const Port& port : space.ports) {
      torch::Tensor& w = state.at(port.name + ".weight");
      torch::Tensor& b = state.at(port.name + ".bias");
      const torch::Tensor rows = grouped(keep, port.group);
      switch (port.kind) {
        case PortKind::Producer:
        case PortKind::Depthwise: {
          const torch::Tensor m = mask.repeat_interleave(port.group);
          w = (w * m.view({-1, 1, 1, 1})).index_select(0, rows);
          b = (b * m).index_select(0, rows);
          break;
        }
        case PortKind::OutputOnly:
          w = w.index_select(0, rows);
          b = b.index_select(0, rows);
          break;
        case PortKind::Consumer:
          w = w.index_select(1, keep);
          break;
      }
    }
  }
  ImageCodecModel student(student_config_);
  student->to(teacher_.q_anchor_log2.device());
  auto fill = [&](const std::string& name, torch::Tensor& target) {
    auto it = state.find(name);
    require(it != state.end() && it->second.sizes() == target.sizes(), NIC_ERROR_INTERNAL,
            "mask decay: the cut left " + name + " without a matching tensor");
    target.copy_(it->second);
  };
  for (auto& p : student->named_parameters()) fill(p.key(), p.value());
  for (auto& b : student->named_buffers()) fill(b.key(), b.value());
  return student;
}

}  // namespace nic
