// Two-region diffusion couple [0,L] x [0,H], split at x = X into A (left) and B (right),
// meshed conformingly. Names: left, right, bottom, top, interface / A, B.
SetFactory("OpenCASCADE");
L = 2.0;
H = 1.0;
X = L / 2;
h = H / 10;
Rectangle(1) = {0, 0, 0, X, H};
Rectangle(2) = {X, 0, 0, L - X, H};
BooleanFragments{ Surface{1, 2}; Delete; }{}
e = 1e-6;
Physical Curve("left") = Curve In BoundingBox{-e, -e, -e, e, H+e, e};
Physical Curve("right") = Curve In BoundingBox{L-e, -e, -e, L+e, H+e, e};
Physical Curve("bottom") = Curve In BoundingBox{-e, -e, -e, L+e, e, e};
Physical Curve("top") = Curve In BoundingBox{-e, H-e, -e, L+e, H+e, e};
Physical Curve("interface") = Curve In BoundingBox{X-e, -e, -e, X+e, H+e, e};
Physical Surface("A") = Surface In BoundingBox{-e, -e, -e, X+e, H+e, e};
Physical Surface("B") = Surface In BoundingBox{X-e, -e, -e, L+e, H+e, e};
Mesh.MeshSizeMax = h;
