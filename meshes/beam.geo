// 2D beam [0,L] x [0,H] for bending. Names: left, right, bottom, top / beam.
SetFactory("OpenCASCADE");
L = 1.0;
H = 0.1;
h = H / 4;
Rectangle(1) = {0, 0, 0, L, H};
Physical Curve("bottom") = {1};
Physical Curve("right") = {2};
Physical Curve("top") = {3};
Physical Curve("left") = {4};
Physical Surface("beam") = {1};
Mesh.MeshSizeMax = h;
