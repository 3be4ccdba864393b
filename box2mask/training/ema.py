"""An EMA teacher: the network's own slowly moving average makes the pseudo-masks (issue 12, item 4).

GrabCut's masks are fixed and teach GrabCut's errors (enclosed background kept
as object, ragged boundaries).  After the warm-up, the teacher target becomes
the prediction of an exponential moving average of the student's weights,
averaged with the student's own prediction and sharpened by a mean-field CRF
restricted to the box (:func:`box2mask.model.crf.box_crf`), in the manner of
Mask Auto-Labeler.  Nothing but boxes and colours goes in, so the target stays
box-derived.
"""

from __future__ import annotations

import copy

import torch

from box2mask.model.backbone import is_backbone_key
from box2mask.model.crf import CRFConfig, box_crf
from box2mask.model.network import VideoBoxToMask


# The CRF that sharpens the teacher's masks at the training crop (192 px): a gentler pairwise term than
# the full-resolution clean-up's (box2mask.model.crf.CRFConfig's defaults, chosen on the folds there).
TEACHER_CRF = CRFConfig(iterations=5, kernel=5, dilation=2, colour_sigma=8.0, weight=3.0)


class EmaTeacher:
    def __init__(self, network: VideoBoxToMask, momentum: float, crf: CRFConfig = TEACHER_CRF):
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"EMA momentum must lie in (0, 1), got {momentum}")
        self.momentum = momentum
        self.crf = crf
        self.model = copy.deepcopy(network).eval()
        for param in self.model.parameters():
            param.requires_grad_(False)

    @torch.no_grad()
    def update(self, network: VideoBoxToMask) -> None:
        """``teacher <- m * teacher + (1 - m) * student`` over the trained part (the backbone is frozen in both)."""
        student = network.state_dict()
        for name, value in self.model.state_dict().items():
            if is_backbone_key(name):
                continue
            if value.is_floating_point():
                value.mul_(self.momentum).add_(student[name].detach(), alpha=1.0 - self.momentum)
            else:
                value.copy_(student[name])

    @torch.no_grad()
    def targets(self, data: dict[str, torch.Tensor], student_logits: torch.Tensor,
                lab: torch.Tensor) -> dict[str, torch.Tensor]:
        """Teacher entries for the batch ``data``: soft masks ``(B, T, 1, S, S)``, every frame taught and trusted.

        ``student_logits (B, T, 1, S, S)`` is the student's refined output on the same clips
        (detached); ``lab`` the clips in CIE Lab, ``(B, T, 3, S, S)``.
        """
        out = self.model(data["images"], data["boxes"])
        mean = 0.5 * (torch.sigmoid(out["refined"].float()) + torch.sigmoid(student_logits))
        inside = data["boxes"].flatten(0, 1) > 0.5
        sharpened = box_crf(mean.flatten(0, 1), lab.flatten(0, 1), inside, self.crf)
        return {"teacher": sharpened.view_as(mean), "taught": torch.ones_like(data["taught"]),
                "teacher_trusted": torch.ones_like(data["teacher_trusted"])}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.model.trainable_state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_trainable_state_dict(state)
