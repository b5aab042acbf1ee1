// 2D rod (strip) [0,L] x [-R,R]. Names: left, right, surface / rod.
SetFactory("OpenCASCADE");
L = 1.0;
R = 0.1;
h = R / 2;
Rectangle(1) = {0, -R, 0, L, 2*R};
Physical Curve("left") = {4};
Physical Curve("right") = {2};
Physical Curve("surface") = {1, 3};
Physical Surface("rod") = {1};
Mesh.MeshSizeMax = h;
